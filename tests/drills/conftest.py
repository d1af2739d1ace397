"""Fixtures of the real-worker drills: the app's settings with a short lease (shared with the workers) and
`flask --app wsgi worker` / `reconcile` processes (`sink` and `promoter` come from tests/conftest.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.drills.fanout import LEASE
from tests.workers import Workers
from webapp.config import Settings


@pytest.fixture
def settings(app, monkeypatch) -> Settings:
    """The app's settings with the workers' short lease (the reconciler here judges by the same)."""
    short = dataclasses.replace(app.config["SETTINGS"], DELIVERY_LEASE_SECONDS=LEASE, FANOUT_RUNS=2)
    monkeypatch.setitem(app.config, "SETTINGS", short)
    return short


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[Workers]:
    running = Workers(settings, tmp_path)
    try:
        yield running
    finally:
        running.close()
