"""serving_scale: serving a sandbox key and a production key of a process with 100,000 versions, and of one
with 10, each as a ratio against /bench/bare measured in the same run: serving should stay flat as history grows.

Both processes are in one database and served by one `gunicorn -w 2 -k gthread --threads 4`; one load
generator (bench.loadgen, its own process, 8 keep-alive connections) hits the five paths in four alternating
rounds after a warm-up (each round starts one path later); each ratio is the median of its rounds' ratios to the bare one of the same round, so drift
on the shared machine weighs on all of them alike. The versions are
bulk-inserted with SQLAlchemy core: v1..v(n/2) laid out as `bench/_history.py` lays them (every other one
production, deprecated; about a third of the sandbox ones active), the live production version is v(n/2)
(an old live version: the newer half of the history is all sandbox), and v(n/2+1)..vn are sandbox, a third
of them active, the newest (vn) among them. At 100,000: 25,000 active sandbox versions, one active
production version 50,000 numbers behind the newest. `BENCH_SCALE_VERSIONS` (100000) makes it smaller
for a quick run, `BENCH_SCALE_SECONDS` (8, per path) shorter.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import loadgen
from bench._common import Results, median, new_app, section, seed_users, stop
from bench.serving import _add, _empty, _wait_up, start_gunicorn

VERSIONS = int(os.environ.get("BENCH_SCALE_VERSIONS", "100000"))
SMALL = 10
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "8"))
WARMUP_SECONDS = 1.0
ROUNDS = 4
THREADS = 8
TARGET_RATIO = 0.85


def scale_versions(process_id: int, user_id: int, n: int) -> None:
    """Versions 1..n as the module docstring lays them out, inserted 2,000 rows a statement."""
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.processes.models import ProcessVersion

    live = n // 2
    config = {"prompt": "You are a support triage assistant. Classify: {{ text }}", "temperature": 0.2}
    start = datetime.now(UTC) - timedelta(minutes=n + 1)
    table = ProcessVersion.__table__
    rows: list[dict[str, Any]] = []
    for number in range(1, n + 1):
        if number == live:
            env, status = "production", "active"
        elif number < live and number % 2 == 0:
            env, status = "production", "deprecated"
        elif number == n or (number > live and number % 3 == 0):
            env, status = "sandbox", "active"
        elif number < live:
            env, status = "sandbox", ("draft" if number % 97 == 0 else "deprecated" if number % 3 else "active")
        else:
            env, status = "sandbox", "draft" if number % 97 == 0 else "deprecated"
        created = start + timedelta(minutes=number)
        rows.append({
            "process_id": process_id, "number": number, "environment": env, "status": status,
            "config": {**config, "revision": number}, "input_schema": None, "output_schema": None,
            "change_notes": f"Change {number}", "created_at": created, "created_by_id": user_id,
            "activated_at": None if status == "draft" else created,
            "published_at": created if env == "production" else None,
            "promoted_by_id": user_id if env == "production" else None, "promoted_from_id": None,
            "deprecated_at": created if status == "deprecated" else None,
        })
        if len(rows) == 2000 or number == n:
            db.session.execute(insert(table), rows)
            rows = []
    db.session.commit()


def seed(app: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Two processes (SMALL and VERSIONS versions) and a key per environment: ({label: path}, {env: key})."""
    from webapp.accounts import services as accounts
    from webapp.processes import documents

    with app.app_context():
        admin = seed_users(roles=())["admin"]
        paths = {}
        for n in (SMALL, VERSIONS):
            proc = documents.create_process(admin, f"Scale {n}")
            scale_versions(proc.id, admin.user_id, n)
            paths[str(n)] = f"/api/v1/serve/{proc.slug}"
        keys = {env: accounts.create_environment_key(admin, env)[1] for env in ("sandbox", "production")}
        return paths, keys


def lookup_us(app: Any, path: str, key: str, n: int = 200) -> float:
    """Median µs of the serving lookup alone (the query the serving path runs), in-process."""
    from webapp.processes.serving import _serving_lookup
    from webapp.sealing import hash_token

    slug, token_hash = path.rsplit("/", 1)[1], hash_token(key)
    with app.app_context():
        assert _serving_lookup(token_hash, slug)[3] is not None, "no active version served"
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            _serving_lookup(token_hash, slug)
            times.append((time.perf_counter() - t0) * 1e6)
    return median(times)


def run(results: Results) -> None:
    with section("serving_scale"):
        app, db_url, r_url = new_app("serving_scale")
        t0 = time.perf_counter()
        paths, keys = seed(app)
        print(f"# serving_scale: {SMALL} + {VERSIONS} versions inserted in {time.perf_counter() - t0:.1f} s",
              flush=True)
        targets = {f"{env}_{n}": (paths[n], {"Authorization": f"Bearer {keys[env]}"})
                   for n in (str(SMALL), str(VERSIONS)) for env in ("sandbox", "production")}
        for name, (path, headers) in targets.items():
            results.info(f"serving_scale_{name}_lookup_us", lookup_us(app, path, keys[name.split("_")[0]]),
                         "context: the lookup query alone, in-process, median of 200", fmt="{:.0f}")
        port, server = start_gunicorn(db_url, r_url)
        runs = {**targets, "bare": ("/bench/bare", {})}
        totals = {name: _empty() for name in runs}
        per_round: dict[str, list[float]] = {name: [] for name in runs}
        try:
            _wait_up(port, server)
            for path, headers in runs.values():
                loadgen.run_in_process("127.0.0.1", port, path, headers, WARMUP_SECONDS, THREADS)
            names = list(runs)
            for i in range(ROUNDS):  # alternating rounds, each starting one path later: drift weighs on all alike
                for name in names[i % len(names):] + names[:i % len(names)]:
                    path, headers = runs[name]
                    part = loadgen.run_in_process("127.0.0.1", port, path, headers, SECONDS / ROUNDS, THREADS)
                    _add(totals[name], part)
                    per_round[name].append(part["rps"])
        finally:
            stop(server)
        bad = {name: t["statuses"] for name, t in totals.items() if t["errors"]}
        if bad:
            print(f"# serving_scale: non-2xx/errors: {bad}", flush=True)
        bare = totals["bare"]["rps"]
        results.info("serving_scale_bare_rps", bare, "baseline: GET /bench/bare, same app, same run", fmt="{:.0f}")
        for name in targets:
            env_name, n = name.split("_")
            # The median of the rounds' ratios (each against the bare one of the same round): one slow round on the
            # shared machine moves it less than it moves the totals.
            ratios = [serve / b for serve, b in zip(per_round[name], per_round["bare"], strict=True) if b]
            ratio = median(ratios) if ratios and not totals[name]["errors"] else 0.0
            results.info(f"serving_scale_{name}_rps", totals[name]["rps"],
                         f"context: {env_name} key, {n} versions", fmt="{:.0f}")
            results.check(f"serving_scale_{name}_ratio", ratio, ">=", TARGET_RATIO)


if __name__ == "__main__":
    run(Results())
