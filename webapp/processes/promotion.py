"""Promoting a version to production (or rolling back to an earlier one) through the promotion engine.

The preview shows the diff against current production and signs which version it previews and which
production version it saw; `promote` copies the version into a new ACTIVE production version, atomically,
and invalidates the response cache after commit through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema

from webapp.accounts.models import Environment, Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, Invalid
from webapp.extensions import db, utcnow
from webapp.governance import services as governance
from webapp.governance.models import WORKSPACE_SUBJECT, process_subject
from webapp.outbox import services as outbox
from webapp.processes import cache
from webapp.processes.diff import Diff, diff_documents
from webapp.processes.documents import (
    current_production,
    get_version,
    lock_process,
    next_number,
    require_not_archived,
)
from webapp.processes.models import ProcessVersion, VersionStatus
from webapp.processes.serving import schema_errors
from webapp.processes.validation import NO_REMOTE_SCHEMAS
from webapp.promotion import Flow, GovernedPromotion, PreviewChanged, PreviewToken, register
from webapp.webhooks import services as webhooks

PROMOTE = (Role.promoter, "promote")


class ProductionChanged(PreviewChanged):
    code = "production_changed"
    default_message = "Production changed since you opened this dialog. Review the new diff and confirm again."


class IdenticalToProduction(Conflict):
    code = "identical_to_production"
    default_message = "Identical to production — nothing to promote."


def refuse_identical(source: ProcessVersion, current: ProcessVersion | None, diff: Diff | None = None) -> None:
    """A promotion whose diff against production is empty would only make a copy of what is served: refused,
    the same for the dialog, the API, a request and a schedule (the engine's `check`)."""
    if current is None:
        return
    if not (diff or diff_documents(current.document, source.document)).changes:
        raise IdenticalToProduction(
            f"Identical to production — nothing to promote: {source.label} has the same config and schemas as "
            f"{current.label}, the production version.",
            details={"source": source.number, "current_production": current.number})


OUTPUT_CHECK_LIMIT = 200  # cached production answers the preview checks against the source's output schema


@dataclass(frozen=True)
class OutputCheck:
    """The source's output schema over what production answered for the inputs still in the cache."""

    checked: int | None  # None: Redis did not answer
    rejected: int
    errors: list[dict[str, str]]  # the first rejected answer's errors
    unusable: str | None = None  # the source's output schema cannot be evaluated

    def as_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "rejected": self.rejected, "errors": self.errors, "unusable": self.unusable}


@dataclass(frozen=True)
class Preview:
    source: ProcessVersion
    current: ProcessVersion | None
    diff: Diff
    cache_entries: int | None
    token: str
    output_check: OutputCheck | None = None  # None: no output schema, or nothing in production to check

    @property
    def is_rollback(self) -> bool:
        return self.source.is_production

    @property
    def is_identical(self) -> bool:
        """Production already serves exactly this: the dialog says so and offers no Promote."""
        return self.current is not None and not self.diff.changes

    def as_json(self) -> dict[str, Any]:
        def brief(v: ProcessVersion | None) -> dict[str, Any] | None:
            return None if v is None else {"id": v.id, "version": v.number, "created_at": v.created_at.isoformat(),
                                           "environment": v.environment.value, "status": v.status.value,
                                           "copied_from": v.promoted_from.number if v.promoted_from else None}
        return {"source": brief(self.source), "current_production": brief(self.current),
                "diff": self.diff.as_json(), "identical_to_production": self.is_identical,
                "cache_entries": self.cache_entries, "preview_token": self.token,
                "output_check": self.output_check.as_json() if self.output_check else None}


@dataclass(frozen=True)
class Promoted:
    promoted: ProcessVersion
    deprecated: ProcessVersion | None
    cache_entries: int

    def as_json(self) -> dict[str, Any]:
        return {"promoted_version": self.promoted.as_json() | {"promoted_from": self.promoted.promoted_from_id},
                "deprecated_version": self.deprecated.as_json() if self.deprecated else None,
                "cache_invalidated": self.cache_entries}


class VersionPromotion(GovernedPromotion[Promoted]):
    """`source` over `current` (the production version the dialog showed, or None before the first one)."""

    token = PreviewToken(salt="promotion-preview", other_source="This preview token belongs to another version.")
    changed = ProductionChanged
    outcome_unknown = "it may or may not have been saved; open the process's history to see before trying again."
    flow = "process"

    def __init__(self, actor: Actor, source: ProcessVersion, current: ProcessVersion | None,
                 change_notes: str = "") -> None:
        self.actor, self.version, self.current, self.change_notes = actor, source, current, change_notes
        self.version_id = source.id  # kept: the rows expire when a changed production rolls back

    def source(self) -> int:
        return self.version_id

    def seen_now(self) -> int | None:
        return self.current.id if self.current else None

    def fresh_preview(self) -> Preview:
        return promotion_preview(self.actor, self.version_id)

    def source_key(self) -> str:
        return f"version:{self.version_id}"

    def title(self) -> str:
        name, number = self.version.process.name, self.version.number
        return f"{name}: roll back to v{number}" if self.version.is_production else f"{name} v{number} → production"

    def policy_subjects(self) -> list[str]:
        return policy_subjects(self.version.process_id)

    def links(self) -> dict[str, int]:
        return {"process_id": self.version.process_id}

    def check(self) -> None:
        # Here as well as in `promote`: every path that confirms a version promotion (a scheduled one, an
        # approved request) passes through the engine's `check`, so an archived process is never promoted.
        require_not_archived(self.version.process, "be promoted")
        refuse_identical(self.version, self.current)

    def write(self) -> Promoted:
        actor, source, current = self.actor, self.version, self.current
        now = utcnow()
        if current is not None:
            current.status = VersionStatus.deprecated
            current.deprecated_at = now
            db.session.flush()  # the partial unique index must see the old one leave first
        rollback = source.is_production
        notes = (self.change_notes or "").strip() or (f"Rollback to v{source.number}" if rollback
                                                      else source.change_notes)
        promoted = ProcessVersion(
            process_id=source.process_id, number=next_number(source.process_id),
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
                     promoted.id, details | {"cache_entries": entries})
        outbox.add(actor.workspace_id, "cache.invalidate_process", {"process_id": process.id})
        webhooks.emit(actor.workspace_id, "process.rolled_back" if rollback else "process.promoted",
                      details | {"version_id": promoted.id})
        db.session.flush()  # the engine commits: a failure there is told apart from one here
        return Promoted(promoted=promoted, deprecated=current, cache_entries=entries)


def policy_subjects(process_id: int) -> list[str]:
    """The approval policies that may govern promoting this process's versions, most specific first."""
    return [process_subject(process_id), WORKSPACE_SUBJECT]


def approval_policy(actor: Actor, process_id: int) -> governance.Policy:
    """The policy a promotion of this process passes now (the dialog: promote, or request approval)."""
    return governance.policy_for(actor.workspace_id, policy_subjects(process_id))


def promotion_preview(actor: Actor, version_id: int) -> Preview:
    actor.require(*PROMOTE)
    source = get_version(actor, version_id)
    _require_promotable(source)
    current = current_production(source.process_id)
    return Preview(source=source, current=current,
                   diff=diff_documents(current.document if current else None, source.document),
                   cache_entries=cache.count(source.process_id), token=VersionPromotion(actor, source, current).sign(),
                   output_check=check_outputs(source, current))


def check_outputs(source: ProcessVersion, current: ProcessVersion | None) -> OutputCheck | None:
    """Would the source's output schema reject what production answers today? Checked on the production
    answers in the response cache (the inputs clients really sent, as far as the cache still holds them)."""
    if not source.output_schema or current is None:
        return None
    answers = cache.outputs(source.process_id, current.id, OUTPUT_CHECK_LIMIT)
    if answers is None:
        return OutputCheck(checked=None, rejected=0, errors=[])
    validator = jsonschema.Draft202012Validator(source.output_schema, registry=NO_REMOTE_SCHEMAS)
    rejected, first = 0, []
    for answer in answers:
        try:
            errors = schema_errors(validator, answer, "output")
        except Invalid as exc:
            return OutputCheck(checked=len(answers), rejected=0, errors=[], unusable=exc.message)
        if errors:
            rejected += 1
            first = first or errors[:5]
    return OutputCheck(checked=len(answers), rejected=rejected, errors=first)


def _require_promotable(version: ProcessVersion) -> None:
    require_not_archived(version.process, "be promoted")
    if not version.is_promotable:
        if version.is_production and version.status is VersionStatus.active:
            raise Conflict(f"v{version.number} is already the production version.", code="not_promotable")
        raise Conflict(f"v{version.number} is {version.environment.value} {version.status.value}; only sandbox "
                       "active versions (or earlier production versions, to roll back) can be promoted.",
                       code="not_promotable")


def promote(actor: Actor, version_id: int, change_notes: str = "", preview_token: str | None = None, *,
            override_reason: str | None = None) -> Promoted:
    """Make a copy of `version_id` the ACTIVE production version, atomically.

    With a `preview_token` (the dialog always sends one) production must still be what the
    preview showed, or `ProductionChanged` carries the fresh preview. Cache invalidation and
    webhooks run after commit through the outbox. Where the approval policy requires approval it is refused
    (`governance.confirm`) unless an admin gives an `override_reason`.
    """
    return governance.confirm(reopen(actor, version_id, change_notes), preview_token, override_reason=override_reason)


def reopen(actor: Actor, version_id: int, change_notes: str = "") -> VersionPromotion:
    """`promote` up to the engine's confirm: role, tenancy, the process's lock, a promotable source."""
    actor.require(*PROMOTE)
    source = get_version(actor, version_id)
    lock_process(source.process_id)  # serialises promotions (and archiving) of one process (PostgreSQL)
    db.session.refresh(source)
    _require_promotable(source)
    current = current_production(source.process_id, for_update=True)
    return VersionPromotion(actor, source, current, change_notes)


FLOW = register(Flow("process", reopen=reopen, preview=promotion_preview))


@outbox.handler("cache.invalidate_process")
def _invalidate_process_cache(effect: Any) -> dict[str, Any]:
    return {"removed": cache.invalidate(effect.payload["process_id"])}
