"""Real `flask --app wsgi worker` and `reconcile` processes for tests and drills: started in their own process
groups, output to files, SIGKILLed for real (the worker, its scheduler and its work horse), whatever is left
killed at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from webapp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20.0  # only stops a broken run from hanging


def descendants(pid: int) -> list[int]:
    """Children, grandchildren… of `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # gone meanwhile
            continue
        if stat:
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


class Workers:
    """`flask --app wsgi worker` processes, each in a process group of its own (the RQ worker, its
    scheduler and its work horse), output to files; whatever is still running at the end is killed."""

    def __init__(self, settings: Settings, logs: Path, **extra_env: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if k not in ("FLASK_DEBUG", "DEBUG")}
        self.env |= {"FLASK_SKIP_DOTENV": "1", "PYTHONUNBUFFERED": "1", "SECRET_KEY": settings.SECRET_KEY,
                     "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL,
                     "DELIVERY_LEASE_SECONDS": str(settings.DELIVERY_LEASE_SECONDS),
                     "FANOUT_RUNS": str(settings.FANOUT_RUNS), **extra_env}
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """A `flask --app wsgi worker` (with its scheduler)."""
        return self._run("worker", *args)

    def reconciler(self, every: float = 1.0) -> subprocess.Popen[bytes]:
        """A `flask --app wsgi reconcile --every N`, killed like a worker."""
        return self._run("reconcile", "--every", str(every))

    def _run(self, command: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{command}-{len(self.procs)}.log", "wb")  # noqa: SIM115 — the child writes it
        with log:
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", command, *args], cwd=ROOT,
                                    env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker's group (the worker, its scheduler) and its work horse, which RQ puts in a
        group of its own (`os.setpgrp()` after the fork): the worker first, so it cannot see the horse die."""
        groups = [proc.pid] + [group for pid in descendants(proc.pid) if (group := _group(pid))]
        for group in dict.fromkeys(groups):
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(10)

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.logs.glob("*.log"), key=lambda p: int(p.stem.rsplit("-", 1)[1])))

    def kill_all(self) -> None:
        """SIGKILL every process started here that still runs: a whole machine going down."""
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)


def wait_for(condition: Callable[[], bool], why: Callable[[], str], timeout: float = TIMEOUT) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, why()
        time.sleep(0.1)
