"""audit: the audit log of one workspace at 1,000,000 rows (`BENCH_AUDIT_ROWS` for a quick run).

The rows are bulk-inserted with SQLAlchemy core in batches of 10,000 (50 actors in turn, two events a second,
so created_at has ties the id breaks); on PostgreSQL the table is ANALYZEd after, as autovacuum would. Through
the test client, signed in as a viewer:

audit_first_page_ms     median of 20 GET /audit (full page: the newest 100)
audit_last_page_ms      median of 20 GET /audit?older=<cursor> with the cursor of the 101st-oldest event: the
                        oldest page, the far end of the keyset
audit_actor_page_ms     median of 20 GET /audit?actor=<one of the 50> (the exact filter, its newest 100)
audit_actor_far_page_ms context: that actor's page from a cursor near the oldest
health_ms               baseline in the same run: median of 20 GET /health (DB + Redis ping); the `_vs_health`
                        lines are the ratios
audit_export_{csv,json}_first_byte_ms   GET /audit/export?format=… (every row), unbuffered: until the first chunk
audit_export_{csv,json}_s               until the last chunk (context, with rows/s and MB sent)
audit_export_{csv,json}_peak_rss_mb     the process's peak RSS growth during the export: /proc/self/clear_refs
                        resets VmHWM to the current RSS before, VmHWM after minus VmRSS before (flat: < 100 MB)
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import Results, https_client, login, median, new_app, section, seed_users, time_ms

ROWS = int(os.environ.get("BENCH_AUDIT_ROWS", "1000000"))
BATCH = 10_000
ACTORS = 50
RUNS = 20
START = datetime(2025, 1, 1, tzinfo=UTC)


def _bulk_events(workspace_id: int, rows: int) -> None:
    from sqlalchemy import insert

    from webapp.audit.models import AuditEvent
    from webapp.extensions import db

    table = AuditEvent.__table__
    for first in range(0, rows, BATCH):
        db.session.execute(insert(table), [
            {"workspace_id": workspace_id, "actor_label": f"user{i % ACTORS}@bench.example", "action": "version.promoted",
             "resource_type": "process", "resource_id": str(i % 997), "details": {"version": i, "note": "bench"},
             "created_at": START + timedelta(seconds=i // 2)} for i in range(first, min(rows, first + BATCH))])
        db.session.commit()


def _kb(field: str) -> int | None:
    """A line of /proc/self/status in kB (VmRSS, VmHWM), None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS
        return True
    except OSError:
        return False


def _export(client: object, fmt: str) -> tuple[float, float, int, float | None]:
    """(ms to the first chunk, s to the last, bytes, MB of peak RSS growth or None when it cannot be read)."""
    reset = _reset_peak()
    rss_before = _kb("VmRSS")
    t0 = time.perf_counter()
    response = client.get(f"/audit/export?format={fmt}", buffered=False)  # type: ignore[attr-defined]
    first_ms, size = None, 0
    try:
        for chunk in response.response:
            if first_ms is None and chunk:
                first_ms = (time.perf_counter() - t0) * 1000
            size += len(chunk)
    finally:
        response.close()
    total = time.perf_counter() - t0
    peak = _kb("VmHWM")
    growth = (peak - rss_before) / 1024 if reset and peak is not None and rss_before is not None else None
    return first_ms or total * 1000, total, size, growth


def run(results: Results) -> None:
    with section("audit"):
        from sqlalchemy import func, select, text

        from webapp.audit import services as audit
        from webapp.audit.models import AuditEvent
        from webapp.extensions import db

        app, db_url, _ = new_app("audit")
        with app.app_context():
            actors = seed_users(roles=("viewer",))
            workspace_id = actors["admin"].workspace_id
            t0 = time.perf_counter()
            _bulk_events(workspace_id, ROWS)
            results.info("audit_rows", f"{ROWS} rows in {time.perf_counter() - t0:.0f} s", "context: bulk insert")
            if db_url.startswith("postgres"):
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE audit_events"))
            oldest = db.session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
                                        .order_by(AuditEvent.created_at, AuditEvent.id).offset(100).limit(1)).one()
            far = audit.cursor_of(oldest)
            actor = f"user{ACTORS // 3}@bench.example"
            actor_far = audit.cursor_of(db.session.scalars(
                select(AuditEvent).where(AuditEvent.actor_label == actor).order_by(AuditEvent.id).offset(100)
                .limit(1)).one())
            total = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.workspace_id == workspace_id))
            db.session.remove()
        client = https_client(app)
        login(client, "viewer@bench.example")
        urls = {"first": "/audit", "last": f"/audit?older={far}", "actor": f"/audit?actor={actor}",
                "actor_far": f"/audit?actor={actor}&older={actor_far}"}
        for url in urls.values():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
            assert response.get_data(as_text=True).count("<tr>") >= 100, url
        for _ in range(3):
            client.get("/health")
        health_before = time_ms(lambda: client.get("/health"), RUNS // 2)
        ms = {name: median(time_ms(lambda url=url: client.get(url), RUNS)) for name, url in urls.items()}
        health = median(health_before + time_ms(lambda: client.get("/health"), RUNS // 2))
        results.check("audit_first_page_ms", ms["first"], "<", 100, fmt="{:.1f}")
        results.check("audit_last_page_ms", ms["last"], "<", 100, fmt="{:.1f}")
        results.check("audit_actor_page_ms", ms["actor"], "<", 100, fmt="{:.1f}")
        results.info("audit_actor_far_page_ms", ms["actor_far"], "context: that actor's 101st-oldest onwards",
                     fmt="{:.1f}")
        results.info("health_ms", health, "baseline: GET /health, same run", fmt="{:.1f}")
        results.info("audit_pages_vs_health", " / ".join(f"{ms[n] / health:.1f}" for n in ("first", "last", "actor")),
                     "context: first / last / actor page over /health")
        for fmt in ("csv", "json"):
            first_ms, seconds, size, growth = _export(client, fmt)
            results.check(f"audit_export_{fmt}_first_byte_ms", first_ms, "<", 500, fmt="{:.0f}")
            results.info(f"audit_export_{fmt}_s", f"{seconds:.1f}",
                         f"context: {total} rows, {total / seconds:.0f} rows/s, {size / 1e6:.0f} MB")
            if growth is None:
                results.skipped(f"audit_export_{fmt}_peak_rss_mb", "skipped: no /proc/self/clear_refs here")
            else:
                results.check(f"audit_export_{fmt}_peak_rss_mb", growth, "<", 100, fmt="{:.1f}")


if __name__ == "__main__":
    run(Results())
