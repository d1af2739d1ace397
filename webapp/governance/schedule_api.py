"""Scheduled promotions over JSON (personal access token): create (promoters), list (any member), cancel (its
creator or any promoter). The same service as the confirm dialogs' "Promote at"."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel

from webapp.accounts.context import api_actor
from webapp.accounts.models import Role
from webapp.apiblueprint import bp
from webapp.commands import Command, Id, from_json, from_query
from webapp.governance import schedules
from webapp.governance.models import ScheduleState
from webapp.governance.schedules import ScheduleCommand
from webapp.openapi import documented


class ScheduleQuery(Command):
    process_id: Id | None = None  # type: ignore[valid-type]
    build_project_id: Id | None = None  # type: ignore[valid-type]
    state: ScheduleState | None = None


class ScheduledPromotionOut(BaseModel):
    id: int
    flow: Literal["process", "world"]
    source: Any
    title: str
    state: ScheduleState
    change_notes: str
    request_id: int | None
    run_at: datetime
    deadline_at: datetime
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_by: str | None
    outcome: dict[str, Any] | None
    process_id: int | None = None
    build_project_id: int | None = None


class ScheduledPromotionList(BaseModel):
    scheduled_promotions: list[ScheduledPromotionOut]


@bp.get("/scheduled-promotions")
@documented("The workspace's scheduled promotions, latest run_at first (filter by process, build or state)",
            responses={200: ScheduledPromotionList})
def list_scheduled_promotions() -> Response:
    actor = api_actor()
    query = from_query(ScheduleQuery)
    rows = schedules.list_schedules(actor, process_id=query.process_id, build_project_id=query.build_project_id,
                                    state=query.state)
    return jsonify({"scheduled_promotions": [schedules.schedule_json(r) for r in rows]})


@bp.post("/scheduled-promotions")
@documented("Schedule a promotion at a local date and time of the workspace's zone", body=ScheduleCommand,
            responses={201: ScheduledPromotionOut, 403: "the token's role is below promoter",
                       404: "no such source (or request) in the token's workspace",
                       409: "approval required (`approval_required`), a schedule of this source pending "
                            "(`schedule_pending`), the request not approved, production changed since the preview",
                       422: "a time that has passed, or one the clocks skip that day (daylight saving time)"})
def create_scheduled_promotion() -> tuple[Response, int]:
    """`{"flow": "process", "source": <version id>, "date": "YYYY-MM-DD", "time": "HH:MM", "preview_token"?,
    "change_notes"?, "deadline_minutes"?}` or `{"request_id": <approved request>, "date", "time"}` → 201."""
    actor = api_actor()
    actor.require(Role.promoter, "schedule promotions")  # before the body: an editor gets 403, not a 400 about it
    return jsonify(schedules.schedule_json(schedules.schedule(actor, from_json(ScheduleCommand)))), 201


@bp.post("/scheduled-promotions/<int:schedule_id>/cancel")
@documented("Cancel a scheduled promotion that has not fired (its creator or any promoter)",
            responses={200: ScheduledPromotionOut, 403: "neither its creator nor a promoter",
                       404: "no such scheduled promotion in the token's workspace",
                       409: "it is not scheduled any more (`schedule_not_scheduled`)"})
def cancel_scheduled_promotion(schedule_id: int) -> Response:
    return jsonify(schedules.schedule_json(schedules.cancel(api_actor(), schedule_id)))
