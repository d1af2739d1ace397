"""The audit log at scale: keyset pages by cursor (page, API), the streamed export in the format it always had,
and the indexes PostgreSQL walks for them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from sqlalchemy import event, insert

from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.audit.services import AuditFilter

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


def bulk_events(db: Any, workspace_id: int, n: int, *, actors: tuple[str, ...] = ("ana@example.com",),
                same_time_every: int = 1) -> None:
    """`n` events 1..n, the newest last; `same_time_every` > 1 gives runs of events at one instant (ties on
    created_at that only the id orders)."""
    rows = [{"workspace_id": workspace_id, "actor_label": actors[i % len(actors)], "action": "thing.done",
             "resource_type": "thing", "resource_id": str(i), "details": {"n": i, "note": "a\nb \"c\""},
             "created_at": AT + timedelta(seconds=i // same_time_every)} for i in range(n)]
    db.session.execute(insert(AuditEvent), rows)
    db.session.commit()


def _ids(html: str) -> list[str]:
    return re.findall(r"· thing:(\d+)</small>", html)


def test_walking_older_then_newer_shows_every_event_once_in_order_even_with_ties_on_the_time(auth, db, factories):
    admin = factories.user("admin")
    bulk_events(db, admin.workspace_id, 250, same_time_every=7)  # runs of 7 at one instant straddle page edges
    auth.login(admin.label)
    pages, url = [], "/audit?action=thing"
    while url:
        html = unescape(auth.get(url, htmx=True).get_data(as_text=True))
        pages.append(html)
        older = re.search(r'<a href="([^"]+)" rel="next"', html)
        url = older[1] if older else None
    assert [len(_ids(p)) for p in pages] == [100, 100, 50]
    assert [int(i) for p in pages for i in _ids(p)] == list(range(249, -1, -1))
    assert '<span class="pager-off" aria-disabled="true">← Newer</span>' in pages[0]
    assert "none older" in pages[-1]
    # ← Newer from the last page gives the middle one again; from the middle, the newest (a full page, no cursor).
    newer = re.search(r'<a href="([^"]+)" rel="prev"', pages[-1])[1]
    middle = unescape(auth.get(newer, htmx=True).get_data(as_text=True))
    assert _ids(middle) == _ids(pages[1])
    top = re.search(r'<a href="([^"]+)" rel="prev"', middle)[1]
    assert _ids(unescape(auth.get(top, htmx=True).get_data(as_text=True))) == _ids(pages[0])


def test_a_cursor_that_cannot_be_read_is_400_beside_the_form(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    for query in ("older=yesterday", "newer=12", f"older={10**30}-1", f"older=1-{2**64}", "older=999999999999999999-1"):
        page = auth.get(f"/audit?action=thing&{query}")
        assert page.status_code == 400, query
        assert "must be a cursor from the audit pager" in unescape(page.get_data(as_text=True))


def test_the_pages_keep_the_exact_actor_filter_across_cursors(auth, db, factories):
    admin = factories.user("admin")
    bulk_events(db, admin.workspace_id, 300, actors=("ana@example.com", "dana@example.com", "ANA@example.com"))
    auth.login(admin.label)
    first = unescape(auth.get("/audit?actor=ana@example.com", htmx=True).get_data(as_text=True))
    older = re.search(r'<a href="([^"]+)" rel="next"', first)[1]
    assert "actor=ana@example.com" in older
    second = unescape(auth.get(older, htmx=True).get_data(as_text=True))
    shown = [int(i) for i in _ids(first) + _ids(second)]
    assert shown == [i for i in range(299, -1, -1) if i % 3 != 1]  # ana and ANA, never dana


def test_the_api_pages_by_a_cursor_in_its_next_link_until_the_oldest(client, db, factories):
    admin = factories.user("admin")
    bulk_events(db, admin.workspace_id, 25, same_time_every=4)
    headers = {"Authorization": f"Bearer {factories.personal_token(admin)}"}
    seen, url, pages = [], "/api/v1/audit?action=thing&limit=10", 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert isinstance(response.get_json(), list)  # the body stays the contract's plain list
        seen += [int(e["resource_id"]) for e in response.get_json()]
        pages += 1
        link = response.headers.get("Link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link)[1] if link else None
        if url:
            assert "action=thing" in url and "limit=10" in url and "older=" in url
    assert pages == 3 and seen == list(range(24, -1, -1))
    assert client.get("/api/v1/audit?older=nope", headers=headers).status_code == 400


# -- the export ----------------------------------------------------------------------------------


def _old_csv(events: list[dict[str, Any]]) -> str:
    """What the export wrote before it streamed (every event's `as_json()`, then one writer)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "created_at", "actor", "action", "resource_type", "resource_id", "details"])
    for e in events:
        writer.writerow([e["id"], e["created_at"], e["actor"], e["action"], e["resource_type"],
                         e["resource_id"], json.dumps(e["details"], sort_keys=True)])
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_export_of_many_events_is_byte_for_byte_what_it_was_before_it_streamed(auth, db, factories, fmt):
    admin = factories.user("admin")
    bulk_events(db, admin.workspace_id, 2_345, same_time_every=3)  # more rows than one batch of the cursor
    audit.record(admin, "webhook.created", "webhook", None, {"url": "https://x.example/ü", "events": ["a", "b"],
                                                              "deep": {"empty": {}, "list": [], "n": None}})
    audit.record(admin, "thing.bare", "thing")  # details {}
    db.session.commit()
    auth.login(admin.label)
    events = [e.as_json() for e in db.session.scalars(audit._query(admin.workspace_id, AuditFilter()))]
    old = json.dumps(events, indent=2) if fmt == "json" else _old_csv(events)
    response = auth.get(f"/audit/export?format={fmt}")
    assert response.status_code == 200 and response.is_streamed
    assert response.get_data(as_text=True) == old
    assert len(events) == 2_345 + 2  # the bulk, the webhook and the bare one


@pytest.mark.parametrize("fmt, empty", [("csv", "id,created_at,actor,action,resource_type,resource_id,details\r\n"),
                                        ("json", "[]")])
def test_an_export_that_matches_nothing_is_what_it_was_before(auth, factories, fmt, empty):
    admin = factories.user("admin")
    auth.login(admin.label)
    assert auth.get(f"/audit/export?format={fmt}&action=nothing").get_data(as_text=True) == empty


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_export_sends_its_first_chunk_before_the_rows_are_read_and_then_a_batch_at_a_time(
        app, auth, db, factories, fmt):
    admin = factories.user("admin")
    bulk_events(db, admin.workspace_id, 3_500)
    auth.login(admin.label)
    fetched: list[int] = []

    def count_fetches(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM audit_events" in statement:
            fetched.append(1)

    response = auth.get(f"/audit/export?format={fmt}&action=thing", buffered=False)
    chunks = iter(response.response)
    event.listen(db.engine, "after_cursor_execute", count_fetches)
    try:
        first = next(chunks)
        assert fetched == []  # the header (or `[`) went out before the query ran
        rest = list(chunks)
    finally:
        event.remove(db.engine, "after_cursor_execute", count_fetches)
        response.close()
    assert first in ("[", b"[") or b"id,created_at" in (first if isinstance(first, bytes) else first.encode())
    assert fetched == [1]  # one query, read through in batches
    sizes = [chunk.count(b'"thing.done"' if fmt == "json" else b",thing.done,") for chunk in rest]
    assert sum(sizes) == 3_500 and max(sizes) <= 1000 and len([s for s in sizes if s]) == 4  # never all at once


# -- the indexes (PostgreSQL's plans) ------------------------------------------------------------------


def _plan_of_the_page_query(db: Any, workspace_id: int, flt: AuditFilter, **cursor: str) -> str:
    """EXPLAIN of the very statement `page_events` sends."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor_: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM audit_events" in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        audit.page_events(workspace_id, flt, **cursor)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, parameters = sent[-1]
    rows = db.session.connection().exec_driver_sql("EXPLAIN " + statement, parameters).all()
    return "\n".join(r[0] for r in rows)


def test_postgresql_walks_the_keyset_and_the_actor_indexes_for_every_page(db, factories):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN output is PostgreSQL's")
    admin = factories.user("admin")
    other = factories.user("admin", "Initech")
    bulk_events(db, admin.workspace_id, 20_000, actors=tuple(f"user{i}@example.com" for i in range(20)))
    bulk_events(db, other.workspace_id, 5_000)
    db.session.connection().exec_driver_sql("ANALYZE audit_events")
    middle = audit.cursor_of(db.session.get(AuditEvent, 10_000))

    for cursor in ({}, {"older": middle}, {"newer": middle}):
        plan = _plan_of_the_page_query(db, admin.workspace_id, AuditFilter(), **cursor)
        assert "ix_audit_events_workspace_created_id" in plan and "Sort" not in plan, plan
        plan = _plan_of_the_page_query(db, admin.workspace_id, AuditFilter(actor="USER7@example.com"), **cursor)
        assert "ix_audit_events_workspace_actor_created" in plan and "Sort" not in plan, plan
