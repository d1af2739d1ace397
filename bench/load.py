"""load: 50 concurrent clients on the serving API for 30 s while a promotion lands every 200 ms.

gunicorn -w 4 -k gthread --threads 4 (as the README deploys it) serves bench.wsgi_app, with one RQ
worker beside it for the outbox (cache invalidation after each promote). The load (bench.loadgen,
two spawned processes, 25 keep-alive connections each) cycles through GET /api/v1/serve/<slug> and,
every fifth request, POST /api/v1/serve/<slug>/invoke with one of 20 inputs, all with a production
environment key. Meanwhile a promoter in this process, over HTTP with a personal access token,
creates a sandbox version, activates it and promotes it, starting one such cycle every 200 ms.

Every request is recorded (start and end on CLOCK_MONOTONIC, status, the version it answered with),
and so is every promote (when its response was read, the version it made). A *stale serve* is a
200 whose request started after some promote's response was read but answered with an older version
than that promote's. The baseline is the same load without promotions, half before and half after
the promoted run (so drift on the shared machine weighs on both sides).
"""

from __future__ import annotations

import bisect
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from bench import loadgen
from bench._common import ROOT, Results, database_url, new_app, percentile, postgres_url, section, stop
from bench.serving import _free_port, _wait_up, seed

SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
BASELINE_SECONDS = float(os.environ.get("BENCH_LOAD_BASELINE_SECONDS", "10"))
WARMUP_SECONDS = 2.0
SPAWN_SECONDS = 2.5  # the load processes start together this long after they are asked for
CLIENTS = 50
LOAD_PROCESSES = 2
WORKER = os.environ.get("BENCH_LOAD_WORKER", "1") != "0"  # the RQ worker beside gunicorn, as deployed
PROMOTE_EVERY = 0.2
PREPARERS = 2  # under load create + activate takes longer than PROMOTE_EVERY
INVOKE_EVERY = 5  # every fifth request of a client is an invoke
INPUTS = 20
TARGET_RATIO = 0.7
TARGET_P99_RATIO = 2.0  # p99 while promoting / p99 of the baseline
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


class Promoted(NamedTuple):
    started: float  # the promote request was written
    returned: float  # its response was read
    status: int | str  # its status ("error": no answer)
    version: int | None  # the promoted version's number
    ms: float  # returned - started, in ms


def _mix(slug: str, key: str) -> list[loadgen.Spec]:
    auth = {"Authorization": f"Bearer {key}"}
    post = auth | {"Content-Type": "application/json"}
    specs = []
    for j in range(INVOKE_EVERY * INPUTS):
        if j % INVOKE_EVERY == INVOKE_EVERY - 1:
            body = json.dumps({"text": f"ticket {j // INVOKE_EVERY}: my invoice is wrong"}).encode()
            specs.append(loadgen.Spec("POST", f"/api/v1/serve/{slug}/invoke", post, body))
        else:
            specs.append(loadgen.Spec("GET", f"/api/v1/serve/{slug}", auth))
    return specs


class _Client:
    """One keep-alive connection of the promoter, sending JSON with the personal token."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.headers = port, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.used = time.monotonic()

    def post(self, path: str, body: dict[str, Any]) -> tuple[int | str, dict[str, Any]]:
        if time.monotonic() - self.used > 1.0:  # gunicorn closes a keep-alive connection idle for 2 s
            self.conn.close()
        self.used = time.monotonic()
        try:
            self.conn.request("POST", path, body=json.dumps(body), headers=self.headers)
            resp = self.conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data and resp.status < 500 else {})
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return "error", {}


def _prepare(client: _Client, slug: str, stop_at: float, ready: queue.Queue[int | None],
             failures: list[int | str], prepare_ms: list[float]) -> None:
    """Creates and activates sandbox versions ahead of the promoter (until the queue is full)."""
    i = 0
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        config = {"prompt": f"You are a support triage assistant (rev {i}). Classify: {{{{ text }}}}",
                  "model": "gpt-x", "temperature": 0.2, "labels": ["billing", "bug", "other"]}
        status, body = client.post(f"/api/v1/processes/{slug}/versions",
                                   {"config": config, "input_schema": SCHEMA, "change_notes": f"load rev {i}"})
        if status == 201:
            status, _ = client.post(f"/api/v1/versions/{body['id']}/activate", {})
        if status != 200:
            failures.append(status)
            if status != 409:  # 409: a lost race for the next version number (SQLite), tried again at once
                print(f"# load: preparing a version failed: {status} {str(body)[:300]}", flush=True)
                time.sleep(PROMOTE_EVERY)
            continue
        prepare_ms.append((time.monotonic() - t0) * 1000)
        i += 1
        while time.monotonic() < stop_at:
            try:
                ready.put(body["id"], timeout=0.05)
                break
            except queue.Full:
                pass
    try:
        ready.put_nowait(None)
    except queue.Full:  # the promoter has stopped asking
        pass


def _next_ready(ready: queue.Queue[int | None], stop_at: float) -> int | None:
    while time.monotonic() < stop_at:
        try:
            return ready.get(timeout=0.05)
        except queue.Empty:
            pass
    return None


def _promoter(port: int, slug: str, token: str, start_at: float, stop_at: float, out: list[Promoted],
              failures: list[int | str], prepare_ms: list[float]) -> None:
    """Promotes a freshly created and activated sandbox version every PROMOTE_EVERY (right away when
    one ran late); PREPARERS more connections create and activate the next versions meanwhile."""
    ready: queue.Queue[int | None] = queue.Queue(maxsize=PREPARERS)
    preparers = [threading.Thread(target=_prepare, args=(_Client(port, token), slug, stop_at, ready, failures,
                                                         prepare_ms)) for _ in range(PREPARERS)]
    for p in preparers:
        p.start()
    client = _Client(port, token)
    next_at, i = start_at + PROMOTE_EVERY / 2, 0
    while next_at < stop_at - PROMOTE_EVERY / 2:
        time.sleep(max(0.0, next_at - time.monotonic()))
        version_id = _next_ready(ready, stop_at)
        if version_id is None:
            break
        t0 = time.monotonic()
        status, body = client.post(f"/api/v1/versions/{version_id}/promote", {"change_notes": f"load {i}"})
        t1 = time.monotonic()
        version = body["promoted_version"]["version"] if status == 201 else None
        out.append(Promoted(t0, t1, status, version, (t1 - t0) * 1000))
        i += 1
        next_at = max(next_at + PROMOTE_EVERY, time.monotonic())
    for p in preparers:
        p.join()


def stale_serves(samples: list[loadgen.Sample], promotions: list[Promoted]) -> list[tuple[loadgen.Sample, Promoted]]:
    """Each 200 that started after a promote's response was read and answered an older version, with
    the newest such promote."""
    done = sorted((p for p in promotions if p.version is not None), key=lambda p: p.returned)
    returned = [p.returned for p in done]
    newest: list[Promoted] = []  # newest[k]: the promote with the highest version among done[:k+1]
    for p in done:
        newest.append(p if not newest or p.version > newest[-1].version else newest[-1])  # type: ignore[operator]
    stale = []
    for s in samples:
        if s.status != 200 or s.value is None:
            continue
        k = bisect.bisect_left(returned, s.start)  # promotes whose response was read before s started
        if k and s.value < newest[k - 1].version:
            stale.append((s, newest[k - 1]))
    return stale


def _latencies_ms(samples: list[loadgen.Sample], spec_of: Any = None) -> list[float]:
    return [(s.end - s.start) * 1000 for s in samples
            if s.status != "error" and (spec_of is None or spec_of(s.spec))]


def _cpu_seconds(*pids: int) -> float:
    """CPU time (user + system, with reaped children) of the processes and their live children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            children = [int(c) for t in os.listdir(f"/proc/{pid}/task")
                        for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
        except OSError:
            children = []
        for p in (pid, *children):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime
    return total


def _server_errors(result: dict[str, Any]) -> int:
    return sum(n for k, n in result["statuses"].items() if k == "error" or int(k) >= 500)


def run(results: Results) -> None:
    with section("load"):
        db_url = postgres_url() or database_url("load")
        app, db_url, r_url = new_app("load", db_url)
        slug, key = seed(app)
        from webapp.accounts import services as accounts
        from webapp.extensions import courier

        with app.app_context():
            user, m = accounts.create_user("promoter@bench.example", "correct-horse-battery", "Bench", "promoter")
            token = accounts.create_personal_token(accounts.actor_for_user(user, m.workspace_id))[1]
            courier.queue().empty()
        backend = "PostgreSQL" if db_url.startswith("postgres") else "SQLite (WAL)"
        port = _free_port()
        env = {**os.environ, "BENCH_WSGI_DATABASE_URL": db_url, "BENCH_WSGI_REDIS_URL": r_url,
               "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "4", "-k", "gthread", "--threads", "4",
                                   "-b", f"127.0.0.1:{port}", "--log-level", "warning", "bench.wsgi_app:app"],
                                  cwd=ROOT, env=env)
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "bench.wsgi_app", "worker"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if WORKER else None
        specs = _mix(slug, key)
        promotions: list[Promoted] = []
        prepare_failures: list[int | str] = []
        prepare_ms: list[float] = []
        load_avg = os.getloadavg()
        try:
            _wait_up(port, server)

            def load(seconds: float, threads: int = CLIENTS, start_at: float | None = None, wait: bool = True) -> Any:
                start_at = start_at or time.monotonic() + SPAWN_SECONDS
                return loadgen.run_recorded_in_processes(LOAD_PROCESSES, "127.0.0.1", port, specs, seconds, threads,
                                                         start_at, "version", wait=wait)

            pids = (server.pid, *([worker.pid] if worker else []))
            load(WARMUP_SECONDS, threads=8)
            cpu = [_cpu_seconds(server.pid), _cpu_seconds(*pids)]
            before = load(BASELINE_SECONDS / 2)
            cpu += [_cpu_seconds(server.pid), _cpu_seconds(*pids)]
            start_at = time.monotonic() + SPAWN_SECONDS
            collect = load(SECONDS, start_at=start_at, wait=False)
            promoter = threading.Thread(target=_promoter, args=(port, slug, token, start_at, start_at + SECONDS,
                                                                promotions, prepare_failures, prepare_ms))
            promoter.start()
            main = collect()
            promoter.join()
            cpu += [_cpu_seconds(server.pid), _cpu_seconds(*pids)]
            after = load(BASELINE_SECONDS / 2)
            cpu += [_cpu_seconds(server.pid), _cpu_seconds(*pids)]
            load_avg = os.getloadavg()
        finally:
            if worker:
                stop(worker)
            stop(server)

        baseline_samples = before["samples"] + after["samples"]
        baseline_rps = (before["requests"] + after["requests"]) / (before["seconds"] + after["seconds"])
        lat = _latencies_ms(main["samples"])
        base_lat = _latencies_ms(baseline_samples)
        is_invoke = {i for i, s in enumerate(specs) if s.method == "POST"}
        stale = stale_serves(main["samples"], promotions)
        ok_promotions = [p for p in promotions if p.version is not None]
        promote_errors = sum(1 for st in [p.status for p in promotions] + prepare_failures
                             if st == "error" or int(st) >= 500)
        server_errors = _server_errors(main) + _server_errors(before) + _server_errors(after) + promote_errors

        results.info("load_setup", f"{CLIENTS} clients ({LOAD_PROCESSES} processes), {SECONDS:.0f} s, 1 in "
                     f"{INVOKE_EVERY} an invoke; gunicorn 4x4 gthread + {int(WORKER)} RQ worker; {backend}; "
                     f"load average {load_avg[0]:.1f}", "context")
        results.info("load_rps", main["rps"], "context: serve + invoke, while promoting every 200 ms", fmt="{:.0f}")
        results.info("load_baseline_rps", baseline_rps,
                     f"baseline: the same load without promotions, {BASELINE_SECONDS:.0f} s around it", fmt="{:.0f}")
        results.check("load_rps_ratio", main["rps"] / baseline_rps if baseline_rps else 0.0, ">=", TARGET_RATIO)
        results.info("load_p50_ms", percentile(lat, 50), f"context: baseline {percentile(base_lat, 50):.1f}",
                     fmt="{:.1f}")
        results.info("load_p99_ms", percentile(lat, 99), f"context: baseline {percentile(base_lat, 99):.1f}",
                     fmt="{:.1f}")
        results.check("load_p99_ratio", percentile(lat, 99) / percentile(base_lat, 99), "<=", TARGET_P99_RATIO)
        serve_p99 = percentile(_latencies_ms(main["samples"], lambda i: i not in is_invoke), 99)
        invoke_p99 = percentile(_latencies_ms(main["samples"], lambda i: i in is_invoke), 99)
        results.info("load_p99_by_kind", f"serve {serve_p99:.1f} ms, invoke {invoke_p99:.1f} ms", "context")
        # cpu: (gunicorn, gunicorn + worker) before the first baseline half, after it, after the promoted run, after
        # the second half.
        base_cpu = (cpu[2] - cpu[0] + cpu[6] - cpu[4], cpu[3] - cpu[1] + cpu[7] - cpu[5])
        main_cpu = (cpu[4] - cpu[2], cpu[5] - cpu[3])
        base_n = before["requests"] + after["requests"]
        results.info("load_cpu_ms_per_request",
                     f"gunicorn {main_cpu[0] / main['requests'] * 1000:.2f} promoting, "
                     f"{base_cpu[0] / base_n * 1000:.2f} baseline; with the RQ worker "
                     f"{main_cpu[1] / main['requests'] * 1000:.2f} / {base_cpu[1] / base_n * 1000:.2f}; "
                     f"RQ worker {(main_cpu[1] - main_cpu[0]) / max(1, len(promotions)) * 1000:.0f} ms a promotion",
                     "context: CPU time of the server processes over the requests answered")
        results.info("load_statuses", ", ".join(f"{k}={v}" for k, v in sorted(main["statuses"].items())),
                     "context: answers during the promoted run")
        results.check("load_5xx", server_errors, "<=", 0, fmt="{:.0f}")
        promote_ms = [p.ms for p in promotions] or [0.0]
        prepare_ms = prepare_ms or [0.0]
        lost = prepare_failures.count(409)
        results.info("load_promotions", f"{len(ok_promotions)} of {len(promotions)} promoted "
                     f"({len(ok_promotions) / SECONDS:.1f}/s, target 5/s); promote p50 {percentile(promote_ms, 50):.0f}"
                     f" ms, p99 {percentile(promote_ms, 99):.0f} ms; create + activate p50 "
                     f"{percentile(prepare_ms, 50):.0f} ms ({PREPARERS} connections), {lost} lost races (409, tried again), "
                     f"{len(prepare_failures) - lost} failed",
                     "context: over HTTP with a promoter's personal token")
        checked = sum(1 for s in main["samples"] if s.status == 200 and s.value is not None
                      and ok_promotions and s.start > min(p.returned for p in ok_promotions))
        results.check("load_stale_serves", len(stale), "<=", 0, fmt="{:.0f}")
        results.info("load_serves_checked", checked, "context: 200s that started after the first promote returned",
                     fmt="{}")
        for s, p in stale[:10]:
            kind = "invoke" if s.spec in is_invoke else "serve"
            print(f"# stale {kind}: started {(s.start - p.returned) * 1000:.1f} ms after v{p.version}'s promote "
                  f"returned, answered v{s.value} after {(s.end - s.start) * 1000:.1f} ms", flush=True)


if __name__ == "__main__":
    run(Results())
