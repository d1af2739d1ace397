"""The Alembic migrations and the models describe the same schema, from one head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect

from tests.conftest import make_settings
from webapp import MIGRATIONS_DIR, create_app
from webapp.extensions import db


def test_the_migrations_have_a_single_head():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several Alembic heads, merge them: {heads}"


@pytest.fixture
def fresh_app(tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'fresh.sqlite'}", redis_url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_db_upgrade_on_an_empty_database_creates_every_model_table(fresh_app):
    from flask_migrate import upgrade

    assert inspect(db.engine).get_table_names() == []
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    missing = set(db.metadata.tables) - tables
    assert not missing, f"models without a migration: {sorted(missing)}"
    assert "alembic_version" in tables


# SQLite's reflection cannot read an expression index (audit's lower(actor_label)): both sides say so and skip it
# (tests/audit/test_indexes.py checks that index on PostgreSQL).
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index:UserWarning")
def test_the_models_and_the_migrations_agree(fresh_app):
    from flask_migrate import upgrade

    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "the models differ from the migrations; run `flask db migrate`:\n" + "\n".join(
        str(d) for d in differences)


def test_the_one_active_production_version_index_exists_after_upgrade(fresh_app):
    from flask_migrate import upgrade

    upgrade()
    indexes = {ix["name"]: ix for ix in inspect(db.engine).get_indexes("process_versions")}
    assert indexes["uq_process_versions_one_active_production"]["unique"]
    with db.engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = "
                                   "'uq_process_versions_one_active_production'").scalar_one()
    assert "WHERE environment = 'production' AND status = 'active'" in sql  # partial: one per process
