"""How an RQ job gets its app: the worker's (webapp/outbox/worker.py), or one create_app per process.

Jobs are an entry layer beside webapp/__init__.py: they import the app; the app never imports them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from webapp.outbox.worker import set_app, worker_app

__all__ = ["app_context", "get_app", "set_app"]


def get_app() -> Flask:
    app, _ = worker_app()
    if app is None:
        from webapp import create_app

        app = create_app()
        set_app(app)
    return app


@contextmanager
def app_context() -> Iterator[Flask]:
    app = get_app()
    with app.app_context():
        from webapp.extensions import db

        if os.getpid() != worker_app()[1]:
            # A forked work horse must not share the parent's pooled connections.
            db.engine.dispose(close=False)
        try:
            yield app
        finally:
            db.session.remove()
