"""start: how long `make run`'s supervisor (`python -m webapp.devserver`) takes to answer /health, on a new SQLite
database (it migrates and seeds the demo) and then again on the same one (a warm start: nothing to prepare).

   make_run_first_health_s   the supervisor started → /health answered, on a new database
   make_run_warm_health_s    the same, the second time
   make_run_warm_cpu_s       CPU of the supervisor and all its children over a warm start and its stop (context)
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from bench._common import Results, section, tmpdir

TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _time_to_health(env: dict[str, str]) -> float:
    """Seconds from starting the supervisor to its /health answering; then stops it (SIGINT, as Ctrl-C)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "webapp.devserver"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - started < TIMEOUT and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/health", timeout=1):
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        return float("inf")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)


def run(results: Results) -> None:
    with section("start: make run, first and warm"):
        base = tmpdir() / "start"
        base.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "FLASK_DEBUG")}
        env |= {"DATABASE_URL": f"sqlite:///{base / 'desk.sqlite'}", "SECRET_KEY": "bench-start-secret",
                "PORT": str(_free_port()), "DEV_LOG": str(base / "dev.log"),
                "DEV_INBOX_PATH": str(base / "inbox.jsonl"), "FLASK_SKIP_DOTENV": "1"}
        results.check("make_run_first_health_s", _time_to_health(env), "<=", 90)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        results.check("make_run_warm_health_s", _time_to_health(env), "<=", 10)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        results.info("make_run_warm_cpu_s", after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                     "supervisor + children, start to stop")
        (base / "dev.log").unlink(missing_ok=True)
