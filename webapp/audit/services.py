"""The audit trail: every service that changes something records it in the same transaction."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from flask import has_request_context, request
from sqlalchemy import Engine, Select, func, literal, select, tuple_

from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest
from webapp.extensions import UTCDateTime, db
from webapp.inputs import MAX_ID


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


# -- keyset pages ---------------------------------------------------------------------------------
# A page is "the `per_page` events just older (or newer) than this one", found by walking the index
# (workspace_id, created_at, id) — or (workspace_id, lower(actor_label), created_at, id) — from a cursor,
# so the 10,000th page costs what the first does. Nothing counts the whole table: a pager says whether
# there is more, not "page 3 of 9,000".

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(\d{1,18})-(\d{1,19})")


def cursor_of(event: AuditEvent) -> str:
    """Where an event sits in the newest-first order: `<created_at in µs since 1970>-<id>`."""
    return f"{(event.created_at - _EPOCH) // timedelta(microseconds=1)}-{event.id}"


def _parse_cursor(value: str, name: str) -> tuple[datetime, int]:
    match = _CURSOR.fullmatch(value.strip())
    try:
        if match is None or int(match[2]) > MAX_ID:
            raise ValueError
        return _EPOCH + timedelta(microseconds=int(match[1])), int(match[2])
    except (ValueError, OverflowError):
        raise BadRequest(f"'{name}' must be a cursor from the audit pager's links, like 1796688551000000-42.") from None


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, with where the pager goes from it."""

    items: Sequence[AuditEvent]
    older: str | None  # the cursor of the page after this one, when there are older events
    newer: str | None  # the cursor of the page before this one; None on the newest page
    newest: bool  # the first page (nothing newer to go to)


def page_events(workspace_id: int, flt: AuditFilter, *, older: str | None = None, newer: str | None = None,
                per_page: int = 100) -> EventPage:
    """The `per_page` filtered events just older than the cursor `older`, or just newer than `newer`, or the
    newest; one query of `per_page + 1` rows down an index (the extra row says whether there is more)."""
    query = _query(workspace_id, flt)
    key = tuple_(AuditEvent.created_at, AuditEvent.id)
    if newer:
        at, event_id = _parse_cursor(newer, "newer")
        rows = db.session.scalars(query.order_by(None).where(key > tuple_(literal(at, UTCDateTime()), event_id))
                                  .order_by(AuditEvent.created_at, AuditEvent.id).limit(per_page + 1)).all()
        if len(rows) <= per_page:  # back at the top: the newest page, full
            return page_events(workspace_id, flt, per_page=per_page)
        items = list(reversed(rows[:per_page]))
        return EventPage(items=items, older=cursor_of(items[-1]), newer=cursor_of(items[0]), newest=False)
    if older:
        at, event_id = _parse_cursor(older, "older")
        query = query.where(key < tuple_(literal(at, UTCDateTime()), event_id))
    rows = db.session.scalars(query.limit(per_page + 1)).all()
    items = rows[:per_page]
    return EventPage(items=items, older=cursor_of(items[-1]) if len(rows) > per_page else None,
                     newer=cursor_of(items[0]) if older and items else None, newest=not older)


# -- export ---------------------------------------------------------------------------------------

EXPORT_FORMATS = ("csv", "json")
CSV_COLUMNS = ("id", "created_at", "actor", "action", "resource_type", "resource_id", "details")
_EXPORT_BATCH = 1000  # rows fetched per round trip from a server-side cursor, and written per chunk


def export(workspace_id: int, flt: AuditFilter, fmt: str) -> tuple[Iterator[str], str]:
    """The filtered events as (`chunks`, `mimetype`) in CSV or JSON, newest first, written as they are read
    from a server-side cursor (`yield_per`): memory stays flat however many rows there are, and the first
    chunk (the CSV header, or `[`) is out before the query runs. The text is what `as_json()` per event gave
    before. Nothing runs until the chunks are read; a client that never reads them costs no query."""
    if fmt not in EXPORT_FORMATS:
        raise BadRequest("Export format must be csv or json.")
    query = _query(workspace_id, flt).with_only_columns(
        AuditEvent.id, AuditEvent.created_at, AuditEvent.actor_label, AuditEvent.action, AuditEvent.resource_type,
        AuditEvent.resource_id, AuditEvent.details)
    rows = _stream(db.engine, query)
    return (_json_chunks(rows) if fmt == "json" else _csv_chunks(rows)), (
        "application/json" if fmt == "json" else "text/csv")


def _stream(engine: Engine, query: Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows in batches, on a connection of its own that lives as long as the download (and needs no request
    or app context: the response is read after the view has returned)."""
    with engine.connect() as conn:
        yield from conn.execution_options(yield_per=_EXPORT_BATCH).execute(query).partitions()


def _csv_chunks(batches: Iterator[Sequence[Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()  # the header before the first row is read: the download starts at once
    for batch in batches:
        out.seek(0)
        out.truncate()
        for id_, created_at, actor, action, rtype, rid, details in batch:
            writer.writerow([id_, created_at.isoformat(), actor, action, rtype, rid,
                             json.dumps(details, sort_keys=True)])
        yield out.getvalue()


def _json_chunks(batches: Iterator[Sequence[Any]]) -> Iterator[str]:
    """`json.dumps(list_of_events, indent=2)`, one event at a time: `[`, then each event indented as an item
    of that list, `,` between them, and `\n]` (or `[]` for none). The event's own lines are laid out here and
    only its values go through `json.dumps` (the C encoder; `indent` would take the pure-Python one per row)."""
    dumps = json.dumps
    yield "["
    separator = "\n"
    for batch in batches:
        parts = []
        for id_, created_at, actor, action, rtype, rid, details in batch:
            nested = dumps(details, indent=2).replace("\n", "\n    ") if details else dumps(details)
            parts.append(f'{separator}  {{\n    "id": {dumps(id_)},\n    "action": {dumps(action)},\n'
                         f'    "actor": {dumps(actor)},\n    "resource_type": {dumps(rtype)},\n'
                         f'    "resource_id": {dumps(rid)},\n    "details": {nested},\n'
                         f'    "created_at": {dumps(created_at.isoformat())}\n  }}')
            separator = ",\n"
        yield "".join(parts)
    yield "]" if separator == "\n" else "\n]"
