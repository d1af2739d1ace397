"""How a worker process gets its app: one `create_app` per process, inherited by forked work horses."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from flask import Flask
from rq import Worker
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock

# RQ's scheduler sets its lock with a TTL of its interval (1 s) + 60 s and refreshes it every second. A lock not
# refreshed for STALE_LOCK_SECONDS belongs to a scheduler that is dead or hung.
LOCK_TTL_SECONDS = 1 + 60
STALE_LOCK_SECONDS = 15
_app: Flask | None = None
_pid: int | None = None


def set_app(app: Flask) -> None:
    global _app, _pid
    _app, _pid = app, os.getpid()


def get_app() -> Flask:
    if _app is None:
        from webapp import create_app

        set_app(create_app())
    assert _app is not None
    return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    app = get_app()
    with app.app_context():
        from webapp.extensions import db

        if os.getpid() != _pid:
            # A forked work horse must not share the parent's pooled connections.
            db.engine.dispose(close=False)
        try:
            yield app
        finally:
            db.session.remove()


def _process_gone(pid: int) -> bool:
    """Whether no process `pid` runs on this machine (a zombie no parent reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _holder_is_dead(connection: redis.Redis, lock_key: str, holder: str) -> bool:
    ttl = connection.ttl(lock_key)
    if 0 <= ttl <= LOCK_TTL_SECONDS - STALE_LOCK_SECONDS:
        return True  # not refreshed for a while, wherever it runs
    hostname, pid = (v.decode() if v else "" for v in connection.hmget(SCHEDULER_KEY_TEMPLATE % holder,
                                                                       "hostname", "pid"))
    return hostname == socket.gethostname() and pid.isdecimal() and int(pid) > 0 and _process_gone(int(pid))


def release_stale_scheduler_locks(connection: redis.Redis, queue_names: Iterable[str]) -> list[str]:
    """Free the scheduler lock of each queue whose holder is dead, so that this worker's scheduler takes it now.

    A SIGKILLed worker's scheduler keeps its lock until the TTL runs out (a minute), and a worker started meanwhile
    (systemd restarting it) does not try again until RQ's 10-minute maintenance pass. The holder is dead when its
    scheduler ran on this machine and its process is gone, or when it has not refreshed the lock for
    STALE_LOCK_SECONDS. The release is token-checked (only that holder's lock is deleted); should the holder be
    alive after all, its next heartbeat finds the lock taken and it stops scheduling — one scheduler either way."""
    released = []
    for name in queue_names:
        key = RQScheduler.get_locking_key(name)
        holder = connection.get(key)
        if holder is not None and _holder_is_dead(connection, key, holder.decode()) \
                and release_lock(connection, key, holder.decode()):
            released.append(name)
    return released


def run_worker(app: Flask, *, burst: bool = False) -> None:
    from webapp.extensions import courier

    set_app(app)
    with app.app_context():
        names = app.config["SETTINGS"].RQ_QUEUES
        for name in release_stale_scheduler_locks(courier.connection, names):
            print(f"worker: released the scheduler lock of queue {name!r}: its holder is gone", file=sys.stderr,
                  flush=True)
        queues = [courier.queue(name) for name in names]
        Worker(queues, connection=courier.connection).work(burst=burst, with_scheduler=True)
