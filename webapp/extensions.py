"""Extensions, created once and bound to an app in `create_app` (nothing connects at import time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import redis
from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from rq import Queue
from sqlalchemy import DateTime, ForeignKey, MetaData, TypeDecorator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the offset; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Columns that many tables declare alike, written once: `id: Mapped[IntPk]`. SQLAlchemy merges the
# mapped_column() inside the Annotated into the attribute's own, so `Mapped[WorkspaceId | None]` is nullable
# and `mapped_column(index=True)` or `mapped_column(primary_key=True)` adds to it.
IntPk = Annotated[int, mapped_column(primary_key=True)]
WorkspaceId = Annotated[int, mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))]  # gone with it
UserId = Annotated[int, mapped_column(ForeignKey("users.id", ondelete="CASCADE"))]  # a member's row: gone with them
CreatedAt = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow)]  # when the row was written
UpdatedAt = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def insert_or_skip(model: Any) -> Any:
    """`INSERT … ON CONFLICT` for the session's database (PostgreSQL or SQLite): the same statement, two dialects."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


class RedisCourier:
    """The app's Redis connection and RQ queue. Redis only carries; the database is the truth."""

    def init_app(self, app: Flask) -> None:
        url = app.config["SETTINGS"].REDIS_URL
        app.extensions["redis"] = (
            redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) if url else None
        )

    @property
    def connection(self) -> redis.Redis:
        conn = current_app.extensions["redis"]
        if conn is None:
            raise redis.ConnectionError("REDIS_URL is not configured")
        return conn

    def queue(self, name: str = "default") -> Queue:
        return Queue(name, connection=self.connection)


courier = RedisCourier()
