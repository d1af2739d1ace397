"""An RQ worker inside this app: freeing a dead scheduler's lock, and the app its forked work horses reuse.

The Flask CLI's `worker` command calls run_worker with its app; the RQ entry points in jobs/ find that app
through worker_app() (one create_app per process, inherited by forks) — so the app never imports jobs/.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from rq import SimpleWorker, Worker
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock

# RQ's scheduler sets its lock with a TTL of its interval (1 s) + 60 s and refreshes it every second. A lock not
# refreshed for STALE_LOCK_SECONDS belongs to a scheduler that is dead or hung.
LOCK_TTL_SECONDS = 1 + 60
STALE_LOCK_SECONDS = 15
_app: Flask | None = None
_pid: int | None = None


def set_app(app: Flask) -> None:
    """The app this process's jobs run in (its pid tells a forked work horse that it must not share the pool)."""
    global _app, _pid
    _app, _pid = app, os.getpid()


def worker_app() -> tuple[Flask | None, int | None]:
    """The app set for this process's jobs and the pid that set it, or (None, None)."""
    return _app, _pid


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


class PromptPubsub:
    """An RQ worker whose pubsub thread (it listens for "stop the job" commands) wakes every PUBSUB_WAKE_SECONDS
    instead of RQ's 60: since redis-py 8 stopping that thread waits for it, so a worker told to stop (SIGTERM
    from systemd, the end of a `--burst`) took up to a minute to exit when the thread had just gone back to
    waiting for a subscription. Mixed into RQ's worker classes, before them."""

    PUBSUB_WAKE_SECONDS = 1.0

    def subscribe(self: Any) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=self.PUBSUB_WAKE_SECONDS, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)


class PromptWorker(PromptPubsub, Worker):
    """`flask --app wsgi worker`: RQ's forking worker, stopping promptly."""


class PromptSimpleWorker(PromptPubsub, SimpleWorker):
    """RQ's in-process worker (the tests' `worker` fixture, scripts), stopping promptly."""


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """Work the app's queues with RQ's scheduler; jobs (and forked work horses) run in `app`."""
    from webapp.extensions import courier

    set_app(app)
    with app.app_context():
        names = app.config["SETTINGS"].RQ_QUEUES
        for name in release_stale_scheduler_locks(courier.connection, names):
            print(f"worker: released the scheduler lock of queue {name!r}: its holder is gone", file=sys.stderr,
                  flush=True)
        queues = [courier.queue(name) for name in names]
        PromptWorker(queues, connection=courier.connection).work(burst=burst, with_scheduler=True)
