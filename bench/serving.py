"""serving: req/s of GET /api/v1/serve/<slug> under gunicorn, against /bench/bare on the same app.

gunicorn -w 2 -k gthread --threads 4 serves bench.wsgi_app; one load generator (bench.loadgen, in
its own process, 8 keep-alive connections) hits each path for the same duration after a warm-up.
serving_rps_ratio = serving_rps / bare_rps: how much of the app's own floor the serving path keeps.
On a MISS the serving path is profiled in-process (cProfile over a test-client loop).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import socket
import subprocess
import sys
import time
import urllib.request

from bench import loadgen
from bench._common import ROOT, Results, add_bare_route, new_app, section, seed_users, stop

SECONDS = float(os.environ.get("BENCH_SERVING_SECONDS", "8"))
WARMUP_SECONDS = 2.0
ROUNDS = 4
THREADS = 8
TARGET_RATIO = 0.7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(app):  # type: ignore[no-untyped-def]
    from webapp.accounts import services as accounts
    from webapp.processes import documents, promotion

    with app.app_context():
        actors = seed_users(roles=())
        admin = actors["admin"]
        proc = documents.create_process(admin, "Support triage")
        config = {"prompt": "You are a support triage assistant. Classify: {{ text }}",
                  "model": "gpt-x", "temperature": 0.2, "labels": ["billing", "bug", "other"]}
        schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        v = documents.create_draft(admin, proc, config, schema, None, "first")
        documents.activate(admin, v.id)
        promotion.promote(admin, v.id)
        key = accounts.create_environment_key(admin, "production")[1]
        return proc.slug, key


def profile_inprocess(app, slug: str, key: str, n: int = 600) -> str:  # type: ignore[no-untyped-def]
    """Per-request cost of serve vs bare through the test client, and where serve's time goes."""
    add_bare_route(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(100):
        client.get(f"/api/v1/serve/{slug}", headers=headers)
        client.get("/bench/bare")
    t0 = time.perf_counter()
    for _ in range(n):
        client.get("/bench/bare")
    bare_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        client.get(f"/api/v1/serve/{slug}", headers=headers)
    serve_us = (time.perf_counter() - t0) / n * 1e6
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        client.get(f"/api/v1/serve/{slug}", headers=headers)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"webapp|flask/app|sqlalchemy/orm/session|engine/base", 25)
    stats.sort_stats("tottime").print_stats(15)
    return f"in-process test client: bare {bare_us:.0f} us/req, serve {serve_us:.0f} us/req\n" + out.getvalue()


def start_gunicorn(db_url: str, r_url: str) -> tuple[int, subprocess.Popen[bytes]]:
    """gunicorn -w 2 -k gthread --threads 4 serving bench.wsgi_app on a free port: (the port, the process)."""
    port = _free_port()
    env = {**os.environ, "BENCH_WSGI_DATABASE_URL": db_url, "BENCH_WSGI_REDIS_URL": r_url, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "bench.wsgi_app:app"]
    return port, subprocess.Popen(cmd, cwd=ROOT, env=env)


def run(results: Results) -> None:
    with section("serving"):
        app, db_url, r_url = new_app("serving")
        slug, key = seed(app)
        port, server = start_gunicorn(db_url, r_url)
        try:
            _wait_up(port, server)
            serve_path, serve_headers = f"/api/v1/serve/{slug}", {"Authorization": f"Bearer {key}"}
            loadgen.run_in_process("127.0.0.1", port, serve_path, serve_headers, WARMUP_SECONDS, THREADS)
            loadgen.run_in_process("127.0.0.1", port, "/bench/bare", {}, WARMUP_SECONDS, THREADS)
            # Alternate short rounds so background load on the machine hits both paths alike.
            serve, bare = _empty(), _empty()
            for _ in range(ROUNDS):
                _add(serve, loadgen.run_in_process("127.0.0.1", port, serve_path, serve_headers,
                                                   SECONDS / ROUNDS, THREADS))
                _add(bare, loadgen.run_in_process("127.0.0.1", port, "/bench/bare", {}, SECONDS / ROUNDS, THREADS))
        finally:
            stop(server)
        if serve["errors"] or bare["errors"]:
            print(f"# serving: non-2xx/errors: serve {serve['statuses']}, bare {bare['statuses']}", flush=True)
        results.info("serving_rps", serve["rps"], "context: GET /api/v1/serve/<slug>, gunicorn 2x4 gthread",
                     fmt="{:.0f}")
        results.info("bare_rps", bare["rps"], "baseline: GET /bench/bare, same app, same run", fmt="{:.0f}")
        ratio = serve["rps"] / bare["rps"] if bare["rps"] else 0.0
        ok = results.check("serving_rps_ratio", ratio, ">=", TARGET_RATIO)
        if not ok or os.environ.get("BENCH_PROFILE"):
            print("# serving profile (cumulative for app/session frames, then tottime):", flush=True)
            print("\n".join("#   " + line for line in profile_inprocess(app, slug, key).splitlines()), flush=True)


def _empty() -> dict:  # type: ignore[type-arg]
    return {"requests": 0, "errors": 0, "seconds": 0.0, "rps": 0.0, "statuses": {}}


def _add(total: dict, part: dict) -> None:  # type: ignore[type-arg]
    total["requests"] += part["requests"]
    total["errors"] += part["errors"]
    total["seconds"] += part["seconds"]
    total["rps"] = total["requests"] / total["seconds"]
    for k, v in part["statuses"].items():
        total["statuses"][k] = total["statuses"].get(k, 0) + v


def _wait_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up in 30 s")


if __name__ == "__main__":
    run(Results())
