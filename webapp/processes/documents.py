"""Processes and their versions as documents: reading them (lists, history pages, compare) and writing them
(a process, a sandbox draft, its edits, its activation, archiving and restoring the process). Promotion is
`promotion`, serving `serving`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.accounts.models import Environment, Role
from webapp.accounts.services import Actor, slugify
from webapp.audit import services as audit
from webapp.errors import BadRequest, Conflict, Invalid, NotFound
from webapp.extensions import db, utcnow
from webapp.processes.diff import Diff, diff_documents
from webapp.processes.models import Process, ProcessVersion, VersionStatus
from webapp.processes.validation import validate_document

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
        .options(selectinload(ProcessVersion.promoted_from), selectinload(ProcessVersion.promoted_by),
                 selectinload(ProcessVersion.created_by))  # each row says "copy of v5" and who: no query per row
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


def lock_process(process_id: int) -> Process:
    """The process row, locked until the transaction ends (PostgreSQL), and read afresh: serialises its drafts,
    promotions and archiving, and shows whether it was archived meanwhile."""
    process = db.session.scalar(select(Process).where(Process.id == process_id).with_for_update()
                                .execution_options(populate_existing=True))
    assert process is not None
    return process


class ProcessArchived(Conflict):
    """409: the process is archived; nothing of it changes or is promoted until an admin restores it."""

    code = "process_archived"


def require_not_archived(process: Process, doing: str) -> None:
    if process.is_archived:
        raise ProcessArchived(f"{process.name!r} is archived and cannot {doing}; an admin can restore it.")


def next_number(process_id: int) -> int:
    """The next version number of the process (read under `lock_process`)."""
    return (db.session.scalar(select(func.max(ProcessVersion.number)).where(ProcessVersion.process_id == process_id)) or 0) + 1


def create_draft(actor: Actor, process: Process, config: JsonValue, input_schema: JsonValue = None,
                 output_schema: JsonValue = None, change_notes: str = "", based_on_id: int | None = None) -> ProcessVersion:
    """A new sandbox draft (optionally prefilled from another version, which is only recorded)."""
    actor.require(*CREATE_VERSIONS)
    validate_document(config, input_schema, output_schema)
    if based_on_id is not None and db.session.scalar(
        select(ProcessVersion.id).where(ProcessVersion.id == based_on_id, ProcessVersion.process_id == process.id)
    ) is None:
        raise NotFound(f"The version this draft is based on (id {based_on_id}) is not a version of {process.slug!r}.")
    require_not_archived(lock_process(process.id), "get new versions")
    version = ProcessVersion(
        process_id=process.id, number=next_number(process.id), environment=Environment.sandbox,
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
    require_not_archived(version.process, "be edited")
    if version.status is not VersionStatus.draft:
        raise Conflict(f"v{version.number} is {version.environment.value} {version.status.value} and cannot change; "
                       "use Edit to start a new draft from it.")
    return version


def update_draft(actor: Actor, version_id: int, config: JsonValue, input_schema: JsonValue = None,
                 output_schema: JsonValue = None, change_notes: str = "") -> ProcessVersion:
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
    require_not_archived(version.process, "have versions activated")
    if version.status is not VersionStatus.draft:
        raise Conflict(f"Only drafts can be activated; v{version.number} is {version.status.value}.")
    version.status = VersionStatus.active
    version.activated_at = utcnow()
    audit.record(actor, "version.activated", "process_version", version.id,
                 {"process": version.process.slug, "version": version.number})
    db.session.commit()
    return version


# -- archiving ----------------------------------------------------------------------------------

ARCHIVE = (Role.admin, "archive or restore processes")


def archive_process(actor: Actor, slug: str, reason: str = "") -> Process:
    """Withdraw a process: its environment keys get 410 Gone, it cannot be promoted (the promotion engine
    refuses, whichever path promotes) nor get or change versions, until `restore_process`. Its versions and
    history stay as they are."""
    actor.require(*ARCHIVE)
    process = lock_process(get_process(actor, slug).id)
    if process.is_archived:
        raise Conflict(f"{process.name!r} is already archived.", code="already_archived")
    process.archived_at, process.archived_by_id = utcnow(), actor.user_id
    audit.record(actor, "process.archived", "process", process.id,
                 {"slug": process.slug, "reason": (reason or "").strip() or None})
    db.session.commit()
    return process


def restore_process(actor: Actor, slug: str) -> Process:
    """Undo `archive_process`: the process is served, editable and promotable again, as it was."""
    actor.require(*ARCHIVE)
    process = lock_process(get_process(actor, slug).id)
    if not process.is_archived:
        raise Conflict(f"{process.name!r} is not archived.", code="not_archived")
    archived_at = process.archived_at
    process.archived_at, process.archived_by_id = None, None
    audit.record(actor, "process.restored", "process", process.id,
                 {"slug": process.slug, "archived_at": archived_at.isoformat() if archived_at else None})
    db.session.commit()
    return process


def _commit_or_conflict(message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message) from None
