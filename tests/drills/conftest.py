"""Fixtures of the real-worker drills: a local HTTP sink for the Apprise posts, the app's settings with a short
lease (shared with the workers), a promoter, and `flask --app wsgi worker` / `reconcile` processes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.drills.fanout import LEASE
from tests.sink import Sink
from tests.workers import Workers
from webapp.config import Settings


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def settings(app, monkeypatch) -> Settings:
    """The app's settings with the workers' short lease (the reconciler here judges by the same)."""
    short = dataclasses.replace(app.config["SETTINGS"], DELIVERY_LEASE_SECONDS=LEASE, FANOUT_RUNS=2)
    monkeypatch.setitem(app.config, "SETTINGS", short)
    return short


@pytest.fixture
def promoter(factories):
    return factories.user("promoter", "Acme", email="promoter@example.com")


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[Workers]:
    running = Workers(settings, tmp_path)
    try:
        yield running
    finally:
        running.close()
