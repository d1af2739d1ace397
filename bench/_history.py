"""Bulk history: N versions of one process inserted with SQLAlchemy core (fast, still valid rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from webapp.extensions import db
from webapp.processes.models import ProcessVersion


def bulk_versions(process_id: int, user_id: int, n: int, config: dict[str, Any] | None = None) -> None:
    """Versions 1..n: mostly deprecated production and sandbox versions, exactly one ACTIVE
    production version (number n), a few drafts; timestamps one minute apart."""
    config = config or {"prompt": "You are a helpful assistant. Answer {{ question }}", "temperature": 0.2}
    start = datetime.now(UTC) - timedelta(minutes=n + 1)
    rows = []
    for number in range(1, n + 1):
        created = start + timedelta(minutes=number)
        if number == n:
            env, status = "production", "active"
        elif number % 2 == 0:
            env, status = "production", "deprecated"
        else:
            env, status = "sandbox", ("draft" if number % 97 == 0 else "deprecated" if number % 3 else "active")
        rows.append({
            "process_id": process_id, "number": number, "environment": env, "status": status,
            "config": {**config, "revision": number}, "input_schema": None, "output_schema": None,
            "change_notes": f"Change {number}: tweak the prompt wording", "created_at": created,
            "created_by_id": user_id, "activated_at": None if status == "draft" else created,
            "published_at": created if env == "production" else None,
            "promoted_by_id": user_id if env == "production" else None,
            "promoted_from_id": None, "deprecated_at": created if status == "deprecated" else None,
        })
    table = ProcessVersion.__table__
    for i in range(0, len(rows), 2000):
        db.session.execute(insert(table), rows[i:i + 2000])
    db.session.commit()
