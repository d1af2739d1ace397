"""Real `flask --app wsgi worker` and `reconcile` processes for tests and drills: started in their own process
groups, output to files, SIGKILLed for real (the worker, its scheduler and its work horse), whatever is left
killed at the end.

Each is forked from a fork server that imported the app's modules once (multiprocessing's "forkserver", like
gunicorn's `--preload`), then runs Flask's own command line with the command's arguments and environment: the
same `flask --app wsgi worker` code from the command line on, its app created afresh in the process, without the
~2 s of interpreter start and imports each of the drills' forty-odd starts paid when each was a new Python."""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import multiprocessing
import os
import pkgutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import webapp
from webapp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0  # only stops a broken run from hanging: a loaded 2-core CI machine can take 20 s to finish a run


@functools.cache
def _fork_server() -> multiprocessing.context.ForkServerContext:
    """The fork server's context, told once which modules to import before it forks anything: every module of
    the app and its jobs (it starts, and imports them, at the first `Process.start()`)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["flask.cli", "rq", "apprise", "jobs.worker", "tests.workers",
                                    *(m.name for m in pkgutil.walk_packages(webapp.__path__, "webapp."))])
    return context


def _flask(args: list[str], env: dict[str, str], log: str) -> None:
    """In the forked process: a session of its own, output to `log`, the command's environment, then
    `flask --app wsgi <args>` exactly as the command line runs it (it exits with the command's status)."""
    os.setsid()
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a hung process's stacks, to its log (see Forked.wait)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 — the process's own stdout
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    os.chdir(ROOT)
    from flask.cli import main

    sys.argv = ["flask", "--app", "wsgi", *args]
    main()


class Forked:
    """The part of `subprocess.Popen` the tests use, for a process forked by the fork server."""

    def __init__(self, process: multiprocessing.process.BaseProcess, name: str, log: Path) -> None:
        self._process = process
        self.pid = process.pid
        self.name = name
        self.log = log

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if (code := self._process.exitcode) is None:
            # Still running: every thread's stack of it and its children (the work horse) into its log, then the
            # log itself, so a hang says where it hangs.
            for pid in [self.pid, *descendants(self.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGUSR1)
            time.sleep(1)
            raise AssertionError(f"{self.name} still runs after {timeout} s; its log:\n"
                                 + self.log.read_text(errors="replace")[-12000:])
        return code


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
        self.procs: list[Forked] = []

    def start(self, *args: str) -> Forked:
        """A `flask --app wsgi worker` (with its scheduler)."""
        return self._run("worker", *args)

    def reconciler(self, every: float = 1.0) -> Forked:
        """A `flask --app wsgi reconcile --every N`, killed like a worker."""
        return self._run("reconcile", "--every", str(every))

    def _run(self, command: str, *args: str) -> Forked:
        name = f"{command}-{len(self.procs)}"
        log = self.logs / f"{name}.log"
        process = _fork_server().Process(target=_flask, args=([command, *args], self.env, str(log)), name=name,
                                         daemon=False)
        process.start()
        proc = Forked(process, name, log)
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: Forked) -> None:
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
