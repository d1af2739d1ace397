"""Serving a process to API clients: an environment key and a slug resolve to the active version of that
environment (`GET /api/v1/serve/<slug>`), and an input renders its config's templates (`…/invoke`).

The serving path is the hot one: one indexed query per request (key ⋈ process ⋈ newest active version),
built once at import; everything derived from a version (the GET body, the input validator, the
compiled templates) is kept per process, because versions never change once written. Which version a
key was served is noted in process memory and batched through Redis (`propagation.seen`), never written to
the database by the request.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import jsonschema
from flask import current_app
from jinja2 import TemplateError
from referencing.exceptions import Unresolvable
from sqlalchemy import Engine, create_engine

from webapp.accounts.models import TokenKind
from webapp.accounts.services import touch_token
from webapp.errors import Gone, Invalid, NotFound, Unauthorized
from webapp.extensions import UTCDateTime, db
from webapp.processes import cache, propagation
from webapp.processes.config_templates import compile_templates, render_templates
from webapp.processes.models import ProcessVersion, VersionStatus
from webapp.processes.validation import NO_REMOTE_SCHEMAS
from webapp.sealing import hash_token


@dataclass(frozen=True)
class Served:
    """One servable version and what serving needs of it, built once per version and process."""

    process_id: int
    process_slug: str
    environment: str
    version_id: int
    number: int
    body: bytes  # the GET answer
    validator: jsonschema.Draft202012Validator | None
    output_validator: jsonschema.Draft202012Validator | None
    templates: Any  # the config with its template strings compiled

    @property
    def etag(self) -> str:
        return f"pv-{self.version_id}"


# The lookup runs as plain SQL on a pooled DB-API connection: SQLAlchemy's statement execution
# (cache key, parameters, result processing) cost three times the query itself here (54 µs against
# 12 µs on SQLite, `bench/README.md`). Several sandbox versions may be active; the newest is served.
# The version is picked by a correlated subquery, `ORDER BY number DESC LIMIT 1` on one process and
# environment, so both databases walk `ix_process_versions_newest_active` backwards and stop at its first
# entry: flat in the number of versions (an ORDER BY over the joined rows sorted every active sandbox version
# on PostgreSQL, and on SQLite walked the history newest first past every version newer than an old live one).
# `tests/processes/test_serving_plan.py` checks both plans; the serving tests run it on SQLite and PostgreSQL.
_SERVING_LOOKUP = f"""
SELECT t.id, t.last_used_at, t.environment, v.id, v.created_at, p.archived_at
FROM api_tokens AS t
LEFT JOIN processes AS p ON p.workspace_id = t.workspace_id AND p.slug = :slug
LEFT JOIN process_versions AS v ON v.id = (
    SELECT n.id FROM process_versions AS n
    WHERE n.process_id = p.id AND n.environment = t.environment AND n.status = '{VersionStatus.active.name}'
    ORDER BY n.number DESC
    LIMIT 1)
WHERE t.token_hash = :token_hash AND t.kind = '{TokenKind.environment.name}' AND t.revoked_at IS NULL
"""
# sqlite3 takes :name parameters, psycopg %(name)s.
_SERVING_LOOKUP_PYFORMAT = _SERVING_LOOKUP.replace(":slug", "%(slug)s").replace(":token_hash", "%(token_hash)s")


_lookup_engine_lock = threading.Lock()


def _lookup_engine() -> Engine:
    """The engine the lookup runs on. SQLite: the app's (no round trips to save). PostgreSQL: one of its own in
    autocommit, without the pre-ping and the rollback on return, so a request costs one round trip, not three
    (ping, query, rollback; `bench/README.md`). Autocommit keeps the promise: each lookup is a statement of its
    own that sees every commit made before it started, a promote's included, whichever worker runs it. Made once
    per process (a forked child makes its own: pooled connections are never shared across a fork)."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        return engine
    made = current_app.extensions.get("serving_lookup_engine")
    if made is None or made[0] != os.getpid() or made[1] is not engine:
        with _lookup_engine_lock:
            made = current_app.extensions.get("serving_lookup_engine")
            if made is None or made[0] != os.getpid() or made[1] is not engine:
                options = {**current_app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False,
                           "pool_reset_on_return": None, "isolation_level": "AUTOCOMMIT"}
                made = (os.getpid(), engine, create_engine(engine.url, **options))
                current_app.extensions["serving_lookup_engine"] = made
    return made[2]


def _serving_lookup(token_hash: str, slug: str) -> tuple[Any, ...] | None:
    engine = _lookup_engine()
    sql = _SERVING_LOOKUP if engine.dialect.name == "sqlite" else _SERVING_LOOKUP_PYFORMAT
    params = {"token_hash": token_hash, "slug": slug}
    for attempt in (1, 2):
        connection = engine.raw_connection()
        cursor = None
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            row = cursor.fetchone()
            cursor.close()
            return row
        except engine.dialect.loaded_dbapi.Error as exc:
            # Without the pre-ping a connection the server dropped (a restart, an idle timeout) fails here: it is
            # thrown away and the lookup runs once more on a new one; any other error is the caller's.
            if attempt == 2 or not engine.dialect.is_disconnect(exc, connection.dbapi_connection, cursor):
                raise
            connection.invalidate()
        finally:
            connection.close()  # back to the pool (an invalidated one is discarded)
    raise AssertionError("unreachable: the second attempt returns or raises")


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp as the driver gave it (SQLite: text without an offset) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, db.engine.dialect)


def resolve_serving(key: str, slug: str) -> Served:
    """The active version of `slug` in the key's environment. Looked up in the database on every
    request, so a promotion (or archiving the process: 410) is visible to the very next one."""
    if not key:
        raise Unauthorized("Send an environment key as 'Authorization: Bearer <key>'.")
    token_hash = hash_token(key)
    row = _serving_lookup(token_hash, slug)
    if row is None:
        raise Unauthorized("This environment key is not valid or has been revoked.")
    token_id, last_used_at, environment, version_id, created_at, archived_at = row
    touch_token(token_id, _aware(last_used_at))
    if archived_at is not None:
        raise Gone(f"The process {slug!r} is archived: it is served to nobody until an admin of the workspace "
                   "restores it.", code="process_archived")
    if version_id is None:
        raise NotFound(f"No active {environment} version of {slug!r}.")
    # created_at in the key: a version id alone could be reused after rows are deleted (SQLite).
    served = _served(version_id, created_at)
    propagation.seen(token_hash, token_id, served.process_id, version_id)  # no database write: batched in Redis
    return served


@lru_cache(maxsize=1024)
def _served(version_id: int, created_at: Any) -> Served:
    version = db.session.get(ProcessVersion, version_id)
    assert version is not None, "looked up in the same request"
    process = version.process
    body = {"process": process.slug, "environment": version.environment.value, "version": version.number,
            **version.document}
    # An empty registry: a reference outside the schema is unresolvable (422), never fetched (SSRF).
    validator = (jsonschema.Draft202012Validator(version.input_schema, registry=NO_REMOTE_SCHEMAS)
                 if version.input_schema else None)
    output_validator = (jsonschema.Draft202012Validator(version.output_schema, registry=NO_REMOTE_SCHEMAS)
                        if version.output_schema else None)
    return Served(process_id=process.id, process_slug=process.slug, environment=version.environment.value,
                  version_id=version.id, number=version.number,
                  body=current_app.json.dumps(body).encode("utf-8") + b"\n",
                  validator=validator, output_validator=output_validator, templates=compile_templates(version.config))


def schema_errors(validator: jsonschema.Draft202012Validator, instance: Any, which: str) -> list[dict[str, str]]:
    """Each place where `instance` breaks the schema, as {"path", "message"} (at most 50, in path order)."""
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    except (Unresolvable, RecursionError) as exc:
        raise Invalid(f"This version's {which} schema cannot be evaluated ({type(exc).__name__}); "
                      "fix it in a new version.", code="schema_unusable") from None
    return [{"path": "/".join(str(p) for p in e.path) or "$", "message": e.message} for e in errors[:50]]


def invoke(key: str, slug: str, payload: Any) -> dict[str, Any]:
    """Validate the input against the version's input schema, render the config's templates with it,
    validate what they rendered against the output schema, and cache the answer per (process, version, input)."""
    served = resolve_serving(key, slug)
    if served.validator is not None:
        errors = schema_errors(served.validator, payload, "input")
        if errors:
            raise Invalid("The input does not match the process's input schema.", code="input_invalid",
                          details={"errors": errors})
    field = cache.input_fingerprint(served.version_id, payload)
    output = cache.get(served.process_id, field)
    cached = output is not None
    if not cached:
        context = payload if isinstance(payload, dict) else {"input": payload}
        try:
            output = render_templates(served.templates, {"input": payload, **context})
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError,
                RecursionError) as exc:
            # Templates are user code: `{{ n + 1 }}` with a string n, or `{{ 1 / n }}` with 0, is the
            # input's or the config's problem (422), not ours (500).
            raise Invalid(f"The config's template could not be rendered with this input: {exc}",
                          code="render_failed") from None
        if served.output_validator is not None:
            # Checked before caching, so a cached answer (keyed by version) was always valid for its version.
            errors = schema_errors(served.output_validator, output, "output")
            if errors:
                raise Invalid("The rendered output does not match the process's output schema; the version's "
                              "config or output schema needs fixing.", code="output_invalid", details={"errors": errors})
        cache.put(served.process_id, field, output, current_app.config["SETTINGS"].CACHE_TTL_SECONDS)
    return {"process": served.process_slug, "environment": served.environment, "version": served.number,
            "output": output, "cached": cached}
