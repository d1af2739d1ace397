"""The serving lookup at scale: with a long history it still answers the newest active version of the key's
environment, and both databases plan it as one probe of `ix_process_versions_newest_active` (no sort, no walk
through the history). The plans are read with EXPLAIN of the very statement the serving path runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from tests.conftest import bearer
from webapp.extensions import utcnow
from webapp.processes.models import ProcessVersion
from webapp.processes.serving import _SERVING_LOOKUP, _SERVING_LOOKUP_PYFORMAT
from webapp.sealing import hash_token

HISTORY = 3000


def _long_history(db: Any, process_id: int, user_id: int, n: int = HISTORY) -> tuple[int, int]:
    """v1..vn bulk-inserted: the live production version is v(n/2) (an old one: every newer version is sandbox),
    a third of the sandbox versions active, the newest active sandbox version v(n-2) behind a deprecated v(n-1)
    and a draft vn. Returns (live production number, newest active sandbox number)."""
    live, newest_sandbox = n // 2, n - 2
    start = utcnow() - timedelta(minutes=n + 1)
    rows = []
    for number in range(1, n + 1):
        if number == live:
            env, status = "production", "active"
        elif number < live and number % 2 == 0:
            env, status = "production", "deprecated"
        elif number == n:
            env, status = "sandbox", "draft"
        elif number == newest_sandbox or (number < newest_sandbox and number % 3 == 0):
            env, status = "sandbox", "active"
        else:
            env, status = "sandbox", "deprecated"
        created = start + timedelta(minutes=number)
        rows.append({"process_id": process_id, "number": number, "environment": env, "status": status,
                     "config": {"prompt": f"v{number}"}, "input_schema": None, "output_schema": None,
                     "change_notes": "", "created_at": created, "created_by_id": user_id,
                     "activated_at": None if status == "draft" else created,
                     "published_at": created if env == "production" else None,
                     "deprecated_at": created if status == "deprecated" else None})
    db.session.execute(insert(ProcessVersion.__table__), rows)
    db.session.commit()
    return live, newest_sandbox


@pytest.fixture
def long_history(db, factories, admin) -> dict[str, Any]:
    """A process with HISTORY versions and a key per environment; statistics up to date (as autovacuum keeps them)."""
    proc = factories.process(admin, "Greeter")
    live, newest_sandbox = _long_history(db, proc.id, admin.user_id)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE process_versions"))
        db.session.commit()
    return {"slug": proc.slug, "live": live, "newest_sandbox": newest_sandbox,
            "keys": {env: factories.environment_key(admin, env) for env in ("sandbox", "production")}}


def _plan(db: Any, key: str, slug: str) -> str:
    """The plan of the serving lookup, as the serving path sends it (its SQL, its parameters, a DB-API cursor)."""
    postgres = db.engine.dialect.name == "postgresql"
    sql = ("EXPLAIN " + _SERVING_LOOKUP_PYFORMAT) if postgres else ("EXPLAIN QUERY PLAN " + _SERVING_LOOKUP)
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, {"token_hash": hash_token(key), "slug": slug})
        rows = cursor.fetchall()
    finally:
        connection.close()
    return "\n".join(str(row[0] if postgres else row[-1]) for row in rows)


def test_a_long_history_serves_the_newest_active_sandbox_version_and_the_old_live_production_one(
        client, long_history):
    served = {env: client.get(f"/api/v1/serve/{long_history['slug']}", headers=bearer(key)).get_json()
              for env, key in long_history["keys"].items()}
    assert (served["sandbox"]["version"], served["sandbox"]["config"]) == (
        long_history["newest_sandbox"], {"prompt": f"v{long_history['newest_sandbox']}"})
    assert (served["production"]["version"], served["production"]["config"]) == (
        long_history["live"], {"prompt": f"v{long_history['live']}"})


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_postgresql_plans_the_serving_lookup_as_a_probe_of_the_newest_active_index_without_a_sort(
        db, long_history, environment):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan (the SQLite one has its own test)")
    plan = _plan(db, long_history["keys"][environment], long_history["slug"])
    assert "Backward using ix_process_versions_newest_active" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_sqlite_plans_the_serving_lookup_as_a_search_of_the_newest_active_index_without_a_temp_b_tree(
        db, long_history, environment):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan (the PostgreSQL one has its own test)")
    plan = _plan(db, long_history["keys"][environment], long_history["slug"])
    assert "USING INDEX ix_process_versions_newest_active (process_id=? AND environment=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
