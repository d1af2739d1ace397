"""promote: the promote API with 1,000 versions of history and 10,000 cached responses, then the
time from the promote response to its cache-invalidation effect being done by one real worker.

1. ~50 POST /api/v1/versions/<id>/promote through app.test_client() with a promoter's personal
   access token; before each (not timed) a sandbox version is created and activated through the
   services and the process's cache hash is refilled to 10,000 entries → promote_p50_ms, _p99_ms.
2. One RQ worker (`python -m flask --app bench.wsgi_app worker`, a real subprocess with forked work
   horses) runs the outbox; for ~30 promotions the database is polled every 5 ms from the promote
   response until the `cache.invalidate_process` effect is `done` → effect_done_p50_ms, _p99_ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

from bench._common import ROOT, Results, median, new_app, percentile, section, seed_users, stop

HISTORY = 1000
CACHE_ENTRIES = 10_000
PROMOTIONS = int(os.environ.get("BENCH_PROMOTIONS", "50"))
EFFECT_PROMOTIONS = int(os.environ.get("BENCH_EFFECT_PROMOTIONS", "30"))
POLL_SECONDS = 0.005
EFFECT_TIMEOUT = 15.0


def fill_cache(app, process_id: int, n: int = CACHE_ENTRIES) -> None:  # type: ignore[no-untyped-def]
    from webapp.extensions import courier

    with app.app_context():
        conn = courier.connection
        key = f"pd:cache:process:{process_id}"
        have = conn.hlen(key)
        if have >= n:
            return
        pipe = conn.pipeline(transaction=False)
        value = '{"text":"cached answer","label":"billing"}'
        mapping = {f"999999:{i:064x}": value for i in range(have, n)}
        items = list(mapping.items())
        for i in range(0, len(items), 2000):
            pipe.hset(key, mapping=dict(items[i:i + 2000]))
        pipe.expire(key, 3600)
        pipe.execute()


def new_sandbox(app, actor, process_id: int, i: int) -> int:  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.processes import documents
    from webapp.processes.models import Process

    with app.app_context():
        proc = db.session.get(Process, process_id)
        config = {"prompt": f"You are a helpful assistant (rev {i}). Answer {{{{ question }}}}", "temperature": 0.2}
        v = documents.create_draft(actor, proc, config, None, None, f"bench change {i}")
        documents.activate(actor, v.id)
        vid = v.id
        db.session.remove()
        return vid


def run(results: Results) -> None:
    with section("promote"):
        app, db_url, r_url = new_app("promote")
        from bench._history import bulk_versions
        from webapp.accounts import services as accounts
        from webapp.extensions import courier, db
        from webapp.processes import documents

        with app.app_context():
            actors = seed_users(roles=("promoter",))
            promoter = actors["promoter"]
            proc = documents.create_process(actors["admin"], "Support triage")
            process_id = proc.id
            bulk_versions(process_id, promoter.user_id, HISTORY)
            token = accounts.create_personal_token(promoter)[1]
            courier.queue().empty()  # nothing from earlier runs on this Redis
            db.session.remove()

        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def promote_once(i: int) -> tuple[float, dict]:  # type: ignore[type-arg]
            vid = new_sandbox(app, promoter, process_id, i)
            fill_cache(app, process_id)
            t0 = time.perf_counter()
            resp = client.post(f"/api/v1/versions/{vid}/promote", json={"change_notes": f"bench {i}"},
                               headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            assert resp.status_code == 201, (resp.status_code, resp.get_data(as_text=True)[:300])
            return elapsed, resp.get_json()

        for i in range(3):  # warm-up: import paths, statement caches, connection pool
            promote_once(-1 - i)
        times = []
        last: dict = {}  # type: ignore[type-arg]
        for i in range(PROMOTIONS):
            ms, last = promote_once(i)
            times.append(ms)
        results.info("promote_cache_invalidated", last.get("cache_invalidated"),
                     f"context: cache entries counted per promote, history {HISTORY} versions", fmt="{}")
        results.check("promote_p50_ms", median(times), "<", 50, fmt="{:.1f}")
        results.check("promote_p99_ms", percentile(times, 99), "<", 150, fmt="{:.1f}")

        # -- commit → effect done, with one real worker -------------------------------------------
        env = {**os.environ, "BENCH_WSGI_DATABASE_URL": db_url, "BENCH_WSGI_REDIS_URL": r_url,
               "PYTHONPATH": str(ROOT)}
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "bench.wsgi_app", "worker"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        engine = create_engine(db_url)
        latencies: list[float] = []
        not_done = 0
        try:
            with engine.connect() as conn:
                def status(effect_id: int) -> str | None:
                    value = conn.execute(text("SELECT status FROM outbox_effects WHERE id = :i"),
                                         {"i": effect_id}).scalar()
                    conn.rollback()
                    return value

                def pending() -> int:
                    value = conn.execute(text("SELECT count(*) FROM outbox_effects WHERE status != 'done'")).scalar()
                    conn.rollback()
                    return int(value or 0)

                deadline = time.perf_counter() + 60  # the worker drains the effects queued above
                while pending() and time.perf_counter() < deadline:
                    if worker.poll() is not None:
                        raise RuntimeError("worker exited: " + worker.stderr.read().decode()[-2000:])
                    time.sleep(0.05)
                drained = pending() == 0
                for i in range(EFFECT_PROMOTIONS):
                    vid = new_sandbox(app, promoter, process_id, 1000 + i)
                    fill_cache(app, process_id)
                    resp = client.post(f"/api/v1/versions/{vid}/promote", json={}, headers=headers)
                    t_resp = time.perf_counter()
                    assert resp.status_code == 201, resp.get_data(as_text=True)[:300]
                    effect_id = conn.execute(text(
                        "SELECT max(id) FROM outbox_effects WHERE kind = 'cache.invalidate_process'")).scalar()
                    conn.rollback()
                    while True:
                        if status(effect_id) == "done":
                            latencies.append((time.perf_counter() - t_resp) * 1000)
                            break
                        if time.perf_counter() - t_resp > EFFECT_TIMEOUT:
                            not_done += 1
                            break
                        time.sleep(POLL_SECONDS)
                with app.app_context():
                    left = courier.connection.hlen(f"pd:cache:process:{process_id}")
        finally:
            stop(worker)
            engine.dispose()
        if not drained:
            print("# promote: the worker had not drained the earlier effects within 60 s", flush=True)
        if not_done:
            print(f"# promote: {not_done} effect(s) not done within {EFFECT_TIMEOUT:.0f} s", flush=True)
        results.info("cache_entries_after_effects", left, "context: should be 0 once the last effect ran", fmt="{}")
        if latencies:
            results.info("effect_done_p50_ms", median(latencies), "context", fmt="{:.0f}")
            results.check("effect_done_p99_ms", percentile(latencies, 99) if not not_done else float("inf"),
                          "<", 1000, fmt="{:.0f}")
        else:
            results.check("effect_done_p99_ms", float("inf"), "<", 1000, fmt="{:.0f}")


if __name__ == "__main__":
    run(Results())
