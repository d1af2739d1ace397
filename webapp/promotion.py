"""The promotion engine: what every kind of promotion shares (DESIGN.md rules 5 and 10).

    preview ──(dialog shows it, signs what it saw)──→ confirm ──→ commit ──→ after commit
    `Promotion.sign()`                                `confirm(promotion, preview_token)`

A flow (a process version, a world build, a game night) describes one promotion as a `Promotion`: which
source it promotes (`source`), what the dialog saw of the target (`seen_now`), how to write it (`write`,
flush only) and what to show again when the target changed (`fresh_preview`). `confirm` runs the steps
in the same order for every flow:

1. the preview token must be ours (signed), for this source, and what it saw must still hold — else a 409
   of the flow's `PreviewChanged` subclass whose `details` are the fresh preview;
2. the flow's own refusals (`check`);
3. `write`, then one commit; a lost race is the flow's `lost_race` (by default the same 409), any other
   database failure a 503 saying whether anything was saved (rule 12);
4. `after_commit` — enqueue with `webapp.outbox.services.enqueue_after_commit` (or write outbox rows in
   `write`, which the outbox enqueues after the commit): never before the rows are committed.

A rule that holds for every promotion (an approval it needs, a time it is scheduled for) goes into
`confirm` or `Promotion`, once; the confirm dialog's form is `templates/components/confirm_form.html`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import DBAPIError

from webapp.errors import NOTHING_CHANGED, BadRequest, Conflict, database_failed, lost_race
from webapp.extensions import db

Result = TypeVar("Result")


class Preview(Protocol):
    """What a confirm dialog shows: its JSON (the API's preview, a 409's `details`) carries `preview_token`."""

    token: str

    def as_json(self) -> dict[str, Any]: ...


class PreviewChanged(Conflict):
    """409: what the dialog showed is not true any more; `details` is the fresh preview. Each flow subclasses
    it with its own `code` and `default_message`, which clients already know."""

    code = "preview_changed"
    default_message = "This changed since you opened this dialog. Review the new preview and confirm again."


def changed_since_opened(error: type[PreviewChanged], fresh_preview: Callable[[], Preview]) -> NoReturn:
    """Roll back whatever was read under lock, build the preview anew, and raise `error` carrying it."""
    db.session.rollback()
    raise error(error.default_message, details=fresh_preview().as_json())


@dataclass(frozen=True)
class PreviewToken:
    """A signed statement of what one confirm dialog showed: the source it previews and the target's state it
    saw. The dialog sends it back with the confirm; `seen` reads it (400 when it is not ours or not for this
    source). Tokens are signed with the app's SECRET_KEY and a salt of their own per flow."""

    salt: str
    other_source: str  # the 400's message when the token was issued for another source

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=self.salt)

    def sign(self, source: Any, seen: Any) -> str:
        return self._serializer().dumps({"s": source, "x": seen})

    def seen(self, token: str, source: Any) -> Any:
        """The state the dialog saw, once the token proves to be ours and for `source`."""
        try:
            signed = self._serializer().loads(token)
        except BadSignature:
            raise BadRequest("The preview token is not valid; open the promotion dialog again.") from None
        if not isinstance(signed, dict) or signed.get("s") != _as_signed(source):
            raise BadRequest(self.other_source)
        return signed.get("x")

    def still_holds(self, token: str, source: Any, now: Any) -> bool:
        return self.seen(token, source) == _as_signed(now)


def _as_signed(value: Any) -> Any:
    """`value` as it reads back from a token (tuples come back as lists)."""
    return json.loads(json.dumps(value))


class Promotion(ABC, Generic[Result]):
    """One promotion of one flow, as `confirm` drives it. Built by the flow's preview (unlocked, to `sign`)
    and by its confirm (after taking its locks, so `seen_now` cannot change under it)."""

    token: ClassVar[PreviewToken]
    changed: ClassVar[type[PreviewChanged]]
    # The 503's second half when the commit was sent and no answer came back (rule 12).
    outcome_unknown: ClassVar[str] = "it may or may not have been saved; look before trying again."

    @abstractmethod
    def source(self) -> Any:
        """What is promoted, as JSON-able ids: a token for another source is refused."""

    @abstractmethod
    def seen_now(self) -> Any:
        """The target's state the dialog shows (JSON-able): when it differs at confirm, production changed."""

    @abstractmethod
    def fresh_preview(self) -> Preview:
        """The preview as it is now (after a rollback): the 409's `details`."""

    @abstractmethod
    def write(self) -> Result:
        """Write the promotion (rows, audit, outbox effects, webhooks) and flush; never commit."""

    def check(self) -> None:
        """The flow's own refusals once the token holds (e.g. an exit already taken); raise to refuse."""

    def lost_race(self) -> NoReturn:
        """A concurrent write won (a unique key, a lock, SQLite's writer lock): nothing was written."""
        changed_since_opened(self.changed, self.fresh_preview)

    def after_commit(self, result: Result) -> None:
        """What happens once the promotion is committed (`outbox.enqueue_after_commit` jobs, say)."""

    def sign(self) -> str:
        """The preview token of what the dialog shows now."""
        return self.token.sign(self.source(), self.seen_now())


class GovernedPromotion(Promotion[Result]):
    """A promotion that governance (approvals, schedules: webapp/governance) may keep for later: the flows that
    register in FLOWS build these."""

    flow: ClassVar[str]  # the name it registers under in FLOWS
    actor: Any  # who promotes (webapp.accounts.services.Actor; the engine is below accounts)

    @abstractmethod
    def source_key(self) -> str:
        """What is promoted, whatever the target ("version:12", "project:5"): one open request per key."""

    @abstractmethod
    def title(self) -> str:
        """The promotion in a few words, for lists and messages: "Support bot v7 → production"."""

    @abstractmethod
    def policy_subjects(self) -> list[str]:
        """The approval policies that may govern it, most specific first (`governance.models` subjects)."""

    @abstractmethod
    def links(self) -> dict[str, int]:
        """The row it belongs to, as governance rows' columns: {"process_id": 3} or {"build_project_id": 5}."""

    def check_requester(self) -> None:
        """Refuse (403) when `actor` may promote but not ask others to approve this promotion."""


@dataclass(frozen=True)
class Flow:
    """A flow as governance drives it: `reopen(actor, source)` is the flow's `promote` up to `confirm` (role,
    tenancy, locks, state: the same 403/404/409s), giving the locked `Promotion` for a `source()` kept in a
    row; `preview(actor, source)` is the dialog's preview now (a 409's details, a stale row's fresh diff)."""

    name: str
    reopen: Callable[[Any, Any, str], GovernedPromotion[Any]]  # (actor, source, change_notes)
    preview: Callable[[Any, Any], Preview]


FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    FLOWS[flow.name] = flow
    return flow


def confirm(promotion: Promotion[Result], preview_token: str | None,
            also: Callable[[Result], None] | None = None) -> Result:
    """Check the dialog's token, write, commit, and run what follows the commit — the same for every flow.

    Without a `preview_token` (scripts may send none) nothing is compared: the promotion goes over
    whatever production is now. `also(result)` writes what must commit with the promotion (governance: the
    request it applies, its audit and webhook)."""
    if preview_token and not promotion.token.still_holds(preview_token, promotion.source(), promotion.seen_now()):
        changed_since_opened(promotion.changed, promotion.fresh_preview)
    promotion.check()
    outcome = NOTHING_CHANGED
    try:
        result = promotion.write()
        if also is not None:
            also(result)
            db.session.flush()
        outcome = promotion.outcome_unknown
        db.session.commit()  # sent: from here a lost connection leaves the outcome unknown (rule 12)
    except DBAPIError as exc:
        db.session.rollback()
        if lost_race(exc):
            promotion.lost_race()
        raise database_failed(exc, "the promotion", outcome) from None
    except Exception:
        db.session.rollback()
        raise
    promotion.after_commit(result)
    return result
