"""The audit trail: every service that changes something records it in the same transaction."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from flask import has_request_context, request
from sqlalchemy import Select, func, select

from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest
from webapp.extensions import db


class AuditActor(Protocol):
    """Who an event is recorded for: what audit needs of accounts' `Actor` (audit sits below accounts)."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def label(self) -> str: ...


def record(
    actor: AuditActor | None,
    action: str,
    resource_type: str,
    resource_id: object = None,
    details: dict[str, Any] | None = None,
    *,
    workspace_id: int | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller's commit writes it)."""
    event = AuditEvent(
        workspace_id=workspace_id if workspace_id is not None else (actor.workspace_id if actor else None),
        actor_id=actor.user_id if actor else None,
        actor_label=actor_label or (actor.label if actor else "system"),
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        details=details or {},
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event


ACTOR_MATCHES = ("exact", "contains")


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor: str = ""
    # "exact": the actor's label is `actor` (ignoring case), so ana@example.com is not dana@example.com;
    # "contains": any label with `actor` in it, asked for explicitly.
    actor_match: str = "exact"
    resource: str = ""
    since: datetime | None = None   # inclusive
    before: datetime | None = None  # exclusive: `until` as the instant just past it

    @classmethod
    def from_args(cls, args: Any, zone: tzinfo = UTC) -> AuditFilter:
        """Filters from query arguments; dates and times without an offset are in `zone` (the
        workspace's time zone), and a date `until` includes that whole day."""
        return cls(
            action=(args.get("action") or "").strip(),
            actor=(args.get("actor") or "").strip(),
            actor_match=_parse_actor_match(args.get("actor_match")),
            resource=(args.get("resource") or "").strip(),
            since=_parse_when(args.get("since"), "since", zone),
            before=_parse_when(args.get("until"), "until", zone, past_it=True),
        )


def _parse_actor_match(value: str | None) -> str:
    match = (value or "").strip() or "exact"
    if match not in ACTOR_MATCHES:
        raise BadRequest("'actor_match' must be exact or contains.")
    return match


def _parse_when(value: str | None, name: str, zone: tzinfo, *, past_it: bool = False) -> datetime | None:
    """The UTC instant `value` starts at, or with `past_it` the first instant after it: a date ends
    at the next local midnight (23 or 25 hours later on the days clocks change), a date-time one
    microsecond later (the resolution timestamps are stored with)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        try:
            day = date.fromisoformat(text)  # 2026-11-22, 20261122, 2026-W47-7
        except ValueError:
            when = datetime.fromisoformat(text)
            when = (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC)
            return when + timedelta(microseconds=1) if past_it else when
        return datetime.combine(day + timedelta(days=1) if past_it else day, time(), zone).astimezone(UTC)
    except ValueError:
        raise BadRequest(f"'{name}' must be an ISO 8601 date or date-time, e.g. 2026-11-22 or 2026-11-22T20:00:00Z") from None
    except OverflowError:
        raise BadRequest(f"'{name}' is outside the range of dates the audit log can hold.") from None


def _query(workspace_id: int, flt: AuditFilter) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
    if flt.action:
        # "version" matches version.created, version.promoted, …
        query = query.where(AuditEvent.action.startswith(flt.action))
    if flt.actor:
        if flt.actor_match == "contains":  # % and _ are letters here, not wildcards
            query = query.where(func.lower(AuditEvent.actor_label).contains(flt.actor.lower(), autoescape=True))
        else:
            query = query.where(func.lower(AuditEvent.actor_label) == flt.actor.lower())
    if flt.resource:
        rtype, _, rid = flt.resource.partition(":")
        query = query.where(AuditEvent.resource_type == rtype)
        if rid:
            query = query.where(AuditEvent.resource_id == rid)
    if flt.since:
        query = query.where(AuditEvent.created_at >= flt.since)
    if flt.before:
        query = query.where(AuditEvent.created_at < flt.before)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def list_events(workspace_id: int, flt: AuditFilter, *, limit: int = 100, offset: int = 0) -> Sequence[AuditEvent]:
    return db.session.scalars(_query(workspace_id, flt).limit(limit).offset(offset)).all()


@dataclass(frozen=True)
class EventPage:
    """One page of events, numbered from 1, with what a pager needs."""

    items: Sequence[AuditEvent]
    number: int
    pages: int
    total: int


def page_events(workspace_id: int, flt: AuditFilter, page: int = 1, per_page: int = 100) -> EventPage:
    """The filtered events, newest first, `per_page` at a time (an out-of-range page is clamped)."""
    total = db.session.scalar(
        select(func.count()).select_from(_query(workspace_id, flt).order_by(None).subquery())) or 0
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    items = list_events(workspace_id, flt, limit=per_page, offset=(number - 1) * per_page)
    return EventPage(items=items, number=number, pages=pages, total=total)


def export(workspace_id: int, flt: AuditFilter, fmt: str) -> tuple[str, str]:
    """The filtered events as (`text`, `mimetype`) in CSV or JSON."""
    events = [e.as_json() for e in db.session.scalars(_query(workspace_id, flt))]
    if fmt == "json":
        return json.dumps(events, indent=2), "application/json"
    if fmt != "csv":
        raise BadRequest("Export format must be csv or json.")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "created_at", "actor", "action", "resource_type", "resource_id", "details"])
    for e in events:
        writer.writerow([e["id"], e["created_at"], e["actor"], e["action"], e["resource_type"],
                         e["resource_id"], json.dumps(e["details"], sort_keys=True)])
    return out.getvalue(), "text/csv"
