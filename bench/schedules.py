"""schedules: how late a scheduled promotion applies after its `run_at`, with a real worker.

SCHEDULES process versions (one per process, each with a production version) are scheduled through
`schedules.schedule` — the dialog's and the API's path: a row committed, then RQ `enqueue_at(run_at)` — at whole
seconds (a local HH:MM:SS), `SPACING` seconds apart, the first `AHEAD` seconds after the worker is up. One worker
(`python -m flask --app bench.wsgi_app worker`, its scheduler moves due jobs about once a second) fires them; each
job goes on RQ `schedules.LEAD` before its run_at and its work horse waits for run_at itself.

   schedule_lateness_max_s    the latest of run_at → the row `done` (the promotion committed), over all of them
   schedule_lateness_p50_s    the median of the same
   schedule_claim_p50_s       run_at → the worker's claim (scheduled → running): RQ's share of the lateness
   schedule_applied           done rows / scheduled, and promoted copies per version (exactly once)
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from bench._common import Results, median, new_app, section, seed_users, tmpdir
from bench.gamenight import start_workers, stop_workers, wait_for_workers

SCHEDULES = 6
AHEAD = 3  # seconds from the worker being up to the first run_at
SPACING = 2  # seconds between two run_at
TIMEOUT = 20.0  # seconds after the last run_at: a MISS, not a hang


def run(results: Results) -> None:
    with section("schedules"):
        app, db_url, r_url = new_app("schedules")
        from sqlalchemy import func, select

        from webapp.accounts.models import Workspace
        from webapp.extensions import courier, db, utcnow
        from webapp.governance import schedules
        from webapp.governance.models import ScheduledPromotion, ScheduleState
        from webapp.processes import documents, promotion
        from webapp.processes.models import ProcessVersion

        with app.app_context():
            promoter = seed_users(roles=("promoter",))["promoter"]
            versions = []
            for i in range(SCHEDULES):  # production v2 (a copy of v1), and the sandbox v3 that is scheduled
                proc = documents.create_process(promoter, f"Bench schedule {i}")
                for config in ({"prompt": "v1"}, {"prompt": "v3"}):
                    v = documents.create_draft(promoter, proc, config, None, None, "")
                    documents.activate(promoter, v.id)
                    if config["prompt"] == "v1":
                        promotion.promote(promoter, v.id)
                versions.append(v.id)
            zone = db.session.get(Workspace, promoter.workspace_id).zone
            db.session.remove()

        logs: list[Path] = [tmpdir() / "schedules-worker-0.log"]
        procs = start_workers(db_url, r_url, logs)
        try:
            with app.app_context():
                wait_for_workers(procs, logs, courier.connection)
                base = utcnow().replace(microsecond=0) + timedelta(seconds=AHEAD)
                ids = []
                for i, vid in enumerate(versions):
                    at = (base + timedelta(seconds=i * SPACING)).astimezone(zone)
                    row = schedules.schedule(promoter, schedules.ScheduleCommand.model_validate({
                        "flow": "process", "source": vid, "date": at.date().isoformat(), "time": f"{at:%H:%M:%S}",
                        "preview_token": promotion.promotion_preview(promoter, vid).token}))
                    ids.append(row.id)
                give_up = time.time() + AHEAD + SCHEDULES * SPACING + TIMEOUT
                while time.time() < give_up:
                    db.session.rollback()
                    pending = db.session.scalar(select(func.count()).select_from(ScheduledPromotion).where(
                        ScheduledPromotion.state.in_(schedules.PENDING)))
                    if not pending:
                        break
                    time.sleep(0.1)
                db.session.rollback()
                rows = [db.session.get(ScheduledPromotion, i) for i in ids]
                done = [r for r in rows if r.state is ScheduleState.done]
                late = sorted((r.finished_at - r.run_at).total_seconds() for r in done)
                claims = sorted((r.started_at - r.run_at).total_seconds() for r in done)
                copies = [db.session.scalar(select(func.count()).select_from(ProcessVersion)
                                            .where(ProcessVersion.promoted_from_id == vid)) for vid in versions]
                early = sum(1 for r in done if r.started_at < r.run_at)
                db.session.remove()
        finally:
            stop_workers(procs)

        if not done:
            results.skipped("schedule_lateness_max_s", "no schedule was applied: see the worker log "
                            + str(logs[0]))
            return
        results.check("schedule_lateness_max_s", late[-1], "<=", 1.5)
        results.info("schedule_lateness_p50_s", median(late), f"context: {len(late)} promotions, one worker")
        results.info("schedule_claim_p50_s", median(claims), "context: run_at → the worker's claim (RQ's polling)")
        results.check("schedule_applied", len(done), ">=", SCHEDULES, fmt="{:.0f}")
        results.info("schedule_exactly_once", f"copies per version {sorted(set(copies))}, {early} early",
                     "context: 1 copy each, 0 early", fmt="{}")
