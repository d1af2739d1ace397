"""How a worker process gets its app: one `create_app` per process, inherited by forked work horses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from rq import Worker

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


def run_worker(app: Flask, *, burst: bool = False) -> None:
    from webapp.extensions import courier

    set_app(app)
    with app.app_context():
        queues = [courier.queue(name) for name in app.config["SETTINGS"].RQ_QUEUES]
        Worker(queues, connection=courier.connection).work(burst=burst, with_scheduler=True)
