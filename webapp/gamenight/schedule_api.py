"""Recurring game nights over JSON (personal access token; setting, skipping and deleting need a promoter)."""

from __future__ import annotations

from datetime import date as date_
from datetime import datetime

from flask import Response, jsonify
from pydantic import BaseModel

from webapp.accounts.context import api_actor
from webapp.apiblueprint import bp
from webapp.commands import from_json
from webapp.gamenight import schedules
from webapp.gamenight.models import NightStatus, Status
from webapp.gamenight.schedules import ScheduleCommand
from webapp.openapi import documented


class ScheduledNightOut(BaseModel):
    """One night of a schedule: when it starts and when its campaign is (or was) created, and what came of it."""

    id: int
    date: date_
    start_at: datetime
    create_at: datetime
    status: NightStatus
    detail: str
    campaign_id: int | None


class ScheduleSummaryOut(BaseModel):
    id: int
    promoter_id: int
    weekdays: list[str]
    start_time: str
    lead_minutes: int
    statuses: list[Status]
    min_ready: int | None
    min_players: int | None
    hours_ahead: int
    paused: bool
    zone: str


class ScheduleOut(ScheduleSummaryOut):
    nights: list[ScheduledNightOut]


class ScheduleList(BaseModel):
    schedules: list[ScheduleSummaryOut]


class ScheduleDeleted(BaseModel):
    deleted: int


_PROMOTER = {403: "the token's role is below promoter", 404: "no such schedule in the token's workspace"}


@bp.get("/schedules")
@documented("The workspace's weekly game nights", responses={200: ScheduleList})
def list_schedules() -> Response:
    return jsonify({"schedules": [schedules.as_json(s, nights=False) for s in schedules.listing(api_actor())]})


@bp.post("/schedules")
@documented("Set a weekly game night", body=ScheduleCommand,
            responses={201: ScheduleOut, 403: "the token's role is below promoter",
                       409: "the promoter has the most schedules one may have (`too_many_schedules`)",
                       422: "no weekday or promotable status, or created no earlier than its own reminder "
                            "(`details` names the field)"})
def create_schedule() -> tuple[Response, int]:
    """`{"weekdays": ["fri", …], "start_time"?: "HH:MM", "lead_minutes"?, "statuses"?, "min_ready"?,
    "min_players"?, "hours_ahead"?}` → 201 the schedule with its nights of the next two weeks."""
    return jsonify(schedules.as_json(schedules.create(api_actor(), from_json(ScheduleCommand)))), 201


@bp.get("/schedules/<int:schedule_id>")
@documented("A weekly game night and its nights", responses={200: ScheduleOut, 404: _PROMOTER[404]})
def get_schedule(schedule_id: int) -> Response:
    return jsonify(schedules.as_json(schedules.get(api_actor(), schedule_id)))


@bp.post("/schedules/<int:schedule_id>/pause")
@documented("Pause a weekly game night (nights due meanwhile are skipped)", responses={200: ScheduleOut, **_PROMOTER})
def pause_schedule(schedule_id: int) -> Response:
    return jsonify(schedules.as_json(schedules.set_paused(api_actor(), schedule_id, True)))


@bp.post("/schedules/<int:schedule_id>/resume")
@documented("Resume a paused weekly game night", responses={200: ScheduleOut, **_PROMOTER})
def resume_schedule(schedule_id: int) -> Response:
    return jsonify(schedules.as_json(schedules.set_paused(api_actor(), schedule_id, False)))


@bp.post("/schedules/<int:schedule_id>/delete")
@documented("Delete a weekly game night (campaigns it created stay)", responses={200: ScheduleDeleted, **_PROMOTER})
def delete_schedule(schedule_id: int) -> Response:
    return jsonify({"deleted": schedules.delete(api_actor(), schedule_id)})


@bp.post("/scheduled-nights/<int:night_id>/skip")
@documented("Skip one night of a schedule (a created night's campaign is cancelled quietly before its reminder, "
            "called off after it: each recipient told once)",
            responses={200: ScheduledNightOut, 403: "the token's role is below promoter",
                       404: "no such night in the token's workspace",
                       409: "the night is not pending, and its campaign (if any) is over"})
def skip_night(night_id: int) -> Response:
    return jsonify(schedules.night_json(schedules.skip(api_actor(), night_id)))
