"""Processes and their versions: drafts, activation, compare, promotion, rollback, serving."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

import jsonschema
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from webapp import inputs
from webapp.accounts.models import Environment, Role, TokenKind
from webapp.accounts.services import Actor, slugify, touch_token
from webapp.audit import services as audit
from webapp.errors import (
    NOTHING_CHANGED,
    BadRequest,
    Conflict,
    Invalid,
    NotFound,
    Unauthorized,
    database_failed,
    lost_race,
)
from webapp.extensions import UTCDateTime, db, utcnow
from webapp.outbox import services as outbox
from webapp.processes import cache
from webapp.processes.diff import Diff, diff_documents
from webapp.processes.models import Process, ProcessVersion, VersionStatus
from webapp.sealing import hash_token
from webapp.webhooks import services as webhooks

DOCUMENT_FIELDS = ("config", "input_schema", "output_schema")
_templates = ImmutableSandboxedEnvironment(autoescape=False)


class ProductionChanged(Conflict):
    code = "production_changed"


# -- reading ----------------------------------------------------------------------------------


def list_processes(actor: Actor) -> list[tuple[Process, ProcessVersion | None]]:
    processes = db.session.scalars(
        select(Process).where(Process.workspace_id == actor.workspace_id).order_by(Process.name)
    ).all()
    live = {
        v.process_id: v
        for v in db.session.scalars(
            select(ProcessVersion).join(Process).where(
                Process.workspace_id == actor.workspace_id,
                ProcessVersion.environment == Environment.production,
                ProcessVersion.status == VersionStatus.active,
            )
        )
    }
    return [(p, live.get(p.id)) for p in processes]


def get_process(actor: Actor, slug: str) -> Process:
    process = db.session.scalar(
        select(Process).where(Process.workspace_id == actor.workspace_id, Process.slug == slug)
    )
    if process is None:
        raise NotFound(f"No process {slug!r} in this workspace.")
    return process


def get_version(actor: Actor, version_id: int) -> ProcessVersion:
    version = db.session.scalar(
        select(ProcessVersion).join(Process)
        .where(ProcessVersion.id == version_id, Process.workspace_id == actor.workspace_id)
    )
    if version is None:
        raise NotFound("No such version in this workspace.")
    return version


def current_production(process_id: int, *, for_update: bool = False) -> ProcessVersion | None:
    query = select(ProcessVersion).where(
        ProcessVersion.process_id == process_id,
        ProcessVersion.environment == Environment.production,
        ProcessVersion.status == VersionStatus.active,
    )
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)


@dataclass(frozen=True)
class Page:
    items: Sequence[ProcessVersion]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def history(process: Process, page: int = 1, per_page: int = 20) -> Page:
    """Versions newest first, one page at a time (the index on (process_id, number) serves both)."""
    page = max(1, page)
    total = db.session.scalar(
        select(func.count()).select_from(ProcessVersion).where(ProcessVersion.process_id == process.id)
    ) or 0
    offset = (page - 1) * per_page
    items = db.session.scalars(  # a page past the end is empty, without asking for an offset too big to bind
        select(ProcessVersion).where(ProcessVersion.process_id == process.id)
        .order_by(ProcessVersion.number.desc()).limit(per_page).offset(offset)
    ).all() if offset < total else []
    return Page(items=items, number=page, per_page=per_page, total=total)


def compare(actor: Actor, old_id: int, new_id: int) -> tuple[ProcessVersion, ProcessVersion, Diff]:
    old, new = get_version(actor, old_id), get_version(actor, new_id)
    if old.process_id != new.process_id:
        raise BadRequest("Both versions must belong to the same process.")
    return old, new, diff_documents(old.document, new.document)


# -- writing: processes and drafts --------------------------------------------------------------

# What each write needs. Views that read a body check it first, so a viewer gets 403, not a 400/422.
CREATE_PROCESSES = (Role.editor, "create processes")
CREATE_VERSIONS = (Role.editor, "create versions")
PROMOTE = (Role.promoter, "promote")


def create_process(actor: Actor, name: str, slug: str | None = None, description: str = "") -> Process:
    actor.require(*CREATE_PROCESSES)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid("A process needs a name of 1 to 120 characters.", details={"name": "required, at most 120 characters"})
    slug = slugify(slug or name)
    if not slug:
        raise Invalid("The slug needs at least one letter or digit.", details={"slug": "letters, digits and dashes"})
    if db.session.scalar(select(Process.id).where(Process.workspace_id == actor.workspace_id, Process.slug == slug)):
        raise Conflict(f"A process with the slug {slug!r} already exists in this workspace.")
    process = Process(workspace_id=actor.workspace_id, name=name, slug=slug,
                      description=(description or "").strip(), created_by_id=actor.user_id)
    db.session.add(process)
    db.session.flush()
    audit.record(actor, "process.created", "process", process.id, {"slug": slug, "name": name})
    _commit_or_conflict(f"A process with the slug {slug!r} already exists in this workspace.")
    return process


def parse_json_text(fields: dict[str, str]) -> dict[str, Any]:
    """Form text → JSON values; every field that does not parse is named in one 422."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, text in fields.items():
        text = (text or "").strip()
        if not text:
            values[name] = None
            continue
        try:
            values[name] = inputs.loads(text, name)
        except json.JSONDecodeError as exc:
            errors[name] = f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        except ValueError as exc:
            errors[name] = f"Not usable JSON: {exc}."
    if errors:
        raise Invalid("Some fields are not valid JSON.", details=errors)
    return values


def validate_document(config: Any, input_schema: Any, output_schema: Any) -> None:
    errors: dict[str, str] = {}
    for name, value in (("config", config), ("input_schema", input_schema), ("output_schema", output_schema)):
        problem = inputs.document_problem(value, name)
        if problem:
            errors[name] = f"Cannot be stored: {problem}."
    if errors:  # the checks below walk the documents recursively
        raise Invalid("The version has invalid fields; nothing was saved.", details=errors)
    if not isinstance(config, dict):
        errors["config"] = "The config must be a JSON object, e.g. {\"prompt\": \"…\"}."
    else:
        try:
            _compile(config)
        except TemplateError as exc:
            errors["config"] = f"A template in the config does not parse: {exc}"
    for name, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
        if schema is None:
            continue
        if not isinstance(schema, dict):
            errors[name] = "A JSON Schema must be a JSON object."
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            errors[name] = f"Not a valid JSON Schema at {where}: {exc.message}"
            continue
        ref = _unresolvable_ref(schema)
        if ref is not None:
            errors[name] = (f"The reference {ref!r} does not resolve within the schema "
                            "(only references into the schema itself work; nothing is fetched).")
    if errors:
        raise Invalid("The version has invalid fields; nothing was saved.", details=errors)


_NO_REMOTE_SCHEMAS: Registry[Any] = Registry()


_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})  # instances, not schemas: a "$ref" there is data
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def _unresolvable_ref(schema: dict[str, Any]) -> str | None:
    """The first `$ref` of the schema that validation could not follow, or None.

    Checked against the schema's own root; a schema with nested `$id`s (its own base URIs) is left
    to the check at invoke time rather than risk refusing a valid one."""
    refs: list[str] = []
    nested_ids = False
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            refs.extend(node[k] for k in ("$ref", "$dynamicRef") if isinstance(node.get(k), str))
            nested_ids |= node is not schema and isinstance(node.get("$id"), str)
            for keyword, value in node.items():
                if keyword in _SCHEMA_MAPS and isinstance(value, dict):
                    stack.extend(value.values())  # its keys are names, whatever they spell
                elif keyword not in _DATA_KEYWORDS:
                    stack.append(value)
    if not refs or nested_ids:
        return None
    root = "urn:promotion-desk:schema"
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = Registry().with_resource(root, resource).resolver(base_uri=resource.id() or root)
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return ref
    return None


def _lock_process(process_id: int) -> Process:
    process = db.session.scalar(select(Process).where(Process.id == process_id).with_for_update())
    assert process is not None
    return process


def _next_number(process_id: int) -> int:
    return (db.session.scalar(select(func.max(ProcessVersion.number)).where(ProcessVersion.process_id == process_id)) or 0) + 1


def create_draft(actor: Actor, process: Process, config: Any, input_schema: Any = None,
                 output_schema: Any = None, change_notes: str = "", based_on_id: int | None = None) -> ProcessVersion:
    """A new sandbox draft (optionally prefilled from another version, which is only recorded)."""
    actor.require(*CREATE_VERSIONS)
    validate_document(config, input_schema, output_schema)
    if based_on_id is not None and db.session.scalar(
        select(ProcessVersion.id).where(ProcessVersion.id == based_on_id, ProcessVersion.process_id == process.id)
    ) is None:
        raise NotFound(f"The version this draft is based on (id {based_on_id}) is not a version of {process.slug!r}.")
    _lock_process(process.id)
    version = ProcessVersion(
        process_id=process.id, number=_next_number(process.id), environment=Environment.sandbox,
        status=VersionStatus.draft, config=config, input_schema=input_schema, output_schema=output_schema,
        change_notes=(change_notes or "").strip(), created_by_id=actor.user_id,
    )
    db.session.add(version)
    race_message = "Someone else created a version at the same moment; try again."
    try:
        db.session.flush()
    except IntegrityError:  # SQLite has no row lock: a concurrent promote or draft took this number first
        db.session.rollback()
        raise Conflict(race_message) from None
    audit.record(actor, "version.created", "process_version", version.id,
                 {"process": process.slug, "version": version.number, "based_on": based_on_id})
    _commit_or_conflict(race_message)
    return version


def editable_draft(actor: Actor, version_id: int) -> ProcessVersion:
    """The draft `actor` may edit: 403 below editor, 404 outside the workspace, 409 once it is not a draft."""
    actor.require(Role.editor, "edit versions")
    version = get_version(actor, version_id)
    if version.status is not VersionStatus.draft:
        raise Conflict(f"v{version.number} is {version.environment.value} {version.status.value} and cannot change; "
                       "use Edit to start a new draft from it.")
    return version


def update_draft(actor: Actor, version_id: int, config: Any, input_schema: Any = None,
                 output_schema: Any = None, change_notes: str = "") -> ProcessVersion:
    version = editable_draft(actor, version_id)
    validate_document(config, input_schema, output_schema)
    version.config, version.input_schema, version.output_schema = config, input_schema, output_schema
    version.change_notes = (change_notes or "").strip()
    audit.record(actor, "version.updated", "process_version", version.id,
                 {"process": version.process.slug, "version": version.number})
    db.session.commit()
    return version


def activate(actor: Actor, version_id: int) -> ProcessVersion:
    """draft → sandbox active: frozen from now on, served to sandbox keys, promotable."""
    actor.require(Role.editor, "activate versions")
    version = get_version(actor, version_id)
    if version.status is not VersionStatus.draft:
        raise Conflict(f"Only drafts can be activated; v{version.number} is {version.status.value}.")
    version.status = VersionStatus.active
    version.activated_at = utcnow()
    audit.record(actor, "version.activated", "process_version", version.id,
                 {"process": version.process.slug, "version": version.number})
    db.session.commit()
    return version


# -- promotion ----------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="promotion-preview")


@dataclass(frozen=True)
class Preview:
    source: ProcessVersion
    current: ProcessVersion | None
    diff: Diff
    cache_entries: int | None
    token: str

    @property
    def is_rollback(self) -> bool:
        return self.source.is_production

    def as_json(self) -> dict[str, Any]:
        def brief(v: ProcessVersion | None) -> dict[str, Any] | None:
            return None if v is None else {"id": v.id, "version": v.number, "created_at": v.created_at.isoformat(),
                                           "environment": v.environment.value, "status": v.status.value}
        return {"source": brief(self.source), "current_production": brief(self.current),
                "diff": self.diff.as_json(), "cache_entries": self.cache_entries, "preview_token": self.token}


def promotion_preview(actor: Actor, version_id: int) -> Preview:
    actor.require(*PROMOTE)
    source = get_version(actor, version_id)
    _require_promotable(source)
    current = current_production(source.process_id)
    token = _serializer().dumps({"s": source.id, "p": current.id if current else None})
    return Preview(source=source, current=current,
                   diff=diff_documents(current.document if current else None, source.document),
                   cache_entries=cache.count(source.process_id), token=token)


def _require_promotable(version: ProcessVersion) -> None:
    if not version.is_promotable:
        if version.is_production and version.status is VersionStatus.active:
            raise Conflict(f"v{version.number} is already the production version.", code="not_promotable")
        raise Conflict(f"v{version.number} is {version.environment.value} {version.status.value}; only sandbox "
                       "active versions (or earlier production versions, to roll back) can be promoted.",
                       code="not_promotable")


@dataclass(frozen=True)
class Promotion:
    promoted: ProcessVersion
    deprecated: ProcessVersion | None
    cache_entries: int

    def as_json(self) -> dict[str, Any]:
        return {"promoted_version": self.promoted.as_json() | {"promoted_from": self.promoted.promoted_from_id},
                "deprecated_version": self.deprecated.as_json() if self.deprecated else None,
                "cache_invalidated": self.cache_entries}


def promote(actor: Actor, version_id: int, change_notes: str = "", preview_token: str | None = None) -> Promotion:
    """Make a copy of `version_id` the ACTIVE production version, atomically.

    With a `preview_token` (the dialog always sends one) production must still be what the
    preview showed, or `ProductionChanged` carries the fresh preview. Cache invalidation and
    webhooks run after commit through the outbox.
    """
    actor.require(*PROMOTE)
    source = get_version(actor, version_id)
    _lock_process(source.process_id)  # serialises promotions of one process (PostgreSQL)
    db.session.refresh(source)
    _require_promotable(source)
    current = current_production(source.process_id, for_update=True)
    if preview_token:
        try:
            seen = _serializer().loads(preview_token)
        except BadSignature:
            raise BadRequest("The preview token is not valid; open the promotion dialog again.") from None
        if seen.get("s") != source.id:
            raise BadRequest("This preview token belongs to another version.")
        if seen.get("p") != (current.id if current else None):
            _production_changed(actor, version_id)

    outcome = NOTHING_CHANGED
    try:
        promoted, entries = _write_promotion(actor, source, current, change_notes)
        outcome = "it may or may not have been saved; open the process's history to see before trying again."
        db.session.commit()  # sent: from here a lost connection leaves the outcome unknown (rule 12)
    except DBAPIError as exc:
        db.session.rollback()
        if lost_race(exc):  # a race the row lock could not prevent (SQLite has no row locks): nothing was written
            _production_changed(actor, version_id)
        raise database_failed(exc, "the promotion", outcome) from None
    return Promotion(promoted=promoted, deprecated=current, cache_entries=entries)


def _write_promotion(actor: Actor, source: ProcessVersion, current: ProcessVersion | None,
                     change_notes: str) -> tuple[ProcessVersion, int]:
    now = utcnow()
    if current is not None:
        current.status = VersionStatus.deprecated
        current.deprecated_at = now
        db.session.flush()  # the partial unique index must see the old one leave first
    rollback = source.is_production
    notes = (change_notes or "").strip() or (f"Rollback to v{source.number}" if rollback else source.change_notes)
    promoted = ProcessVersion(
        process_id=source.process_id, number=_next_number(source.process_id),
        environment=Environment.production, status=VersionStatus.active,
        config=source.config, input_schema=source.input_schema, output_schema=source.output_schema,
        change_notes=notes, created_by_id=actor.user_id, activated_at=now, published_at=now,
        promoted_by_id=actor.user_id, promoted_from_id=source.id,
    )
    db.session.add(promoted)
    db.session.flush()
    process = source.process
    entries = cache.count(process.id) or 0
    details = {"process": process.slug, "version": promoted.number, "from_version": source.number,
               "replaced_version": current.number if current else None, "change_notes": notes}
    audit.record(actor, "version.rolled_back" if rollback else "version.promoted", "process_version",
                 promoted.id, details)
    outbox.add(actor.workspace_id, "cache.invalidate_process", {"process_id": process.id})
    webhooks.emit(actor.workspace_id, "process.rolled_back" if rollback else "process.promoted",
                  details | {"version_id": promoted.id})
    db.session.flush()  # the caller commits: a failure there is told apart from one here
    return promoted, entries


def _production_changed(actor: Actor, version_id: int) -> NoReturn:
    db.session.rollback()
    fresh = promotion_preview(actor, version_id)
    raise ProductionChanged("Production changed since you opened this dialog. Review the new diff and confirm again.",
                            details=fresh.as_json())


def _commit_or_conflict(message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message) from None


@outbox.handler("cache.invalidate_process")
def _invalidate_process_cache(effect: Any) -> dict[str, Any]:
    return {"removed": cache.invalidate(effect.payload["process_id"])}


# -- serving ------------------------------------------------------------------------------------
#
# The serving path is the hot one: one indexed query per request (key ⋈ process ⋈ active version),
# built once at import; everything derived from a version (the GET body, the input validator, the
# compiled templates) is kept per process, because versions never change once written.


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
    templates: Any  # the config with its template strings compiled

    @property
    def etag(self) -> str:
        return f"pv-{self.version_id}"


# The lookup runs as plain SQL on a pooled DB-API connection: SQLAlchemy's statement execution
# (cache key, parameters, result processing) cost three times the query itself here (54 µs against
# 12 µs on SQLite, `bench/README.md`). Several sandbox versions may be active; the newest is served.
# The serving tests run it on SQLite and PostgreSQL, against the migrated schema.
_SERVING_LOOKUP = f"""
SELECT t.id, t.last_used_at, t.environment, v.id, v.created_at
FROM api_tokens AS t
LEFT JOIN processes AS p ON p.workspace_id = t.workspace_id AND p.slug = :slug
LEFT JOIN process_versions AS v
       ON v.process_id = p.id AND v.environment = t.environment AND v.status = '{VersionStatus.active.name}'
WHERE t.token_hash = :token_hash AND t.kind = '{TokenKind.environment.name}' AND t.revoked_at IS NULL
ORDER BY v.number DESC
LIMIT 1
"""
# sqlite3 takes :name parameters, psycopg %(name)s.
_SERVING_LOOKUP_PYFORMAT = _SERVING_LOOKUP.replace(":slug", "%(slug)s").replace(":token_hash", "%(token_hash)s")


def _serving_lookup(token_hash: str, slug: str) -> tuple[Any, ...] | None:
    engine = db.engine
    sql = _SERVING_LOOKUP if engine.dialect.name == "sqlite" else _SERVING_LOOKUP_PYFORMAT
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, {"token_hash": token_hash, "slug": slug})
        row = cursor.fetchone()
        cursor.close()
        return row
    finally:
        connection.close()  # back to the pool, rolled back


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp as the driver gave it (SQLite: text without an offset) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, db.engine.dialect)


def resolve_serving(key: str, slug: str) -> Served:
    """The active version of `slug` in the key's environment. Looked up in the database on every
    request, so a promotion is visible to the very next one."""
    if not key:
        raise Unauthorized("Send an environment key as 'Authorization: Bearer <key>'.")
    row = _serving_lookup(hash_token(key), slug)
    if row is None:
        raise Unauthorized("This environment key is not valid or has been revoked.")
    token_id, last_used_at, environment, version_id, created_at = row
    touch_token(token_id, _aware(last_used_at))
    if version_id is None:
        raise NotFound(f"No active {environment} version of {slug!r}.")
    # created_at in the key: a version id alone could be reused after rows are deleted (SQLite).
    return _served(version_id, created_at)


@lru_cache(maxsize=1024)
def _served(version_id: int, created_at: Any) -> Served:
    version = db.session.get(ProcessVersion, version_id)
    assert version is not None, "looked up in the same request"
    process = version.process
    body = {"process": process.slug, "environment": version.environment.value, "version": version.number,
            **version.document}
    # An empty registry: a reference outside the schema is unresolvable (422), never fetched (SSRF).
    validator = (jsonschema.Draft202012Validator(version.input_schema, registry=_NO_REMOTE_SCHEMAS)
                 if version.input_schema else None)
    return Served(process_id=process.id, process_slug=process.slug, environment=version.environment.value,
                  version_id=version.id, number=version.number,
                  body=current_app.json.dumps(body).encode("utf-8") + b"\n",
                  validator=validator, templates=_compile(version.config))


def _compile(node: Any) -> Any:
    """Every template string of a config compiled once."""
    if isinstance(node, str):
        return _templates.from_string(node) if ("{{" in node or "{%" in node) else node
    if isinstance(node, dict):
        return {k: _compile(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_compile(v) for v in node]
    return node


def _render(node: Any, context: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _render(v, context) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, context) for v in node]
    if hasattr(node, "render"):
        return node.render(context)
    return node


def invoke(key: str, slug: str, payload: Any) -> dict[str, Any]:
    """Validate the input against the version's input schema, render the config's templates with it,
    and cache the answer per (process, version, input)."""
    served = resolve_serving(key, slug)
    if served.validator is not None:
        try:
            errors = sorted(served.validator.iter_errors(payload), key=lambda e: list(e.path))
        except (Unresolvable, RecursionError) as exc:
            raise Invalid(f"This version's input schema cannot be evaluated ({type(exc).__name__}); "
                          "fix it in a new version.", code="schema_unusable") from None
        if errors:
            raise Invalid("The input does not match the process's input schema.", code="input_invalid",
                          details=[{"path": "/".join(str(p) for p in e.path) or "$", "message": e.message}
                                   for e in errors[:50]])
    field = cache.input_fingerprint(served.version_id, payload)
    output = cache.get(served.process_id, field)
    cached = output is not None
    if not cached:
        context = payload if isinstance(payload, dict) else {"input": payload}
        try:
            output = _render(served.templates, {"input": payload, **context})
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError,
                RecursionError) as exc:
            # Templates are user code: `{{ n + 1 }}` with a string n, or `{{ 1 / n }}` with 0, is the
            # input's or the config's problem (422), not ours (500).
            raise Invalid(f"The config's template could not be rendered with this input: {exc}",
                          code="render_failed") from None
        cache.put(served.process_id, field, output, current_app.config["SETTINGS"].CACHE_TTL_SECONDS)
    return {"process": served.process_slug, "environment": served.environment, "version": served.number,
            "output": output, "cached": cached}
