"""Races through the JSON API: many clients, each on its own thread and test client (so its own session and
database connection), released together by a barrier. PostgreSQL only, where row locks decide them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask


def require_postgres(db: Any) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent transactions are tested on PostgreSQL only")


def race(app: Flask, calls: list[tuple[str, dict[str, Any]]], token: str) -> list[tuple[int, dict[str, Any]]]:
    """POST every (url, body) from its own thread and test client, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[int, dict[str, Any]] | None] = [None] * len(calls)

    def run(index: int, url: str, body: dict[str, Any]) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=run, args=(i, url, body)) for i, (url, body) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None for r in results), "a racer thread died"
    return results  # type: ignore[return-value]
