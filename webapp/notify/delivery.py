"""The delivery ledger: every message that must go out at most once passes here.

    outcome = delivery.deliver(workspace_id, "campaign_job", job.id, messages, local_time=..., dry_run=False)

Each message has a unique key (`campaign:7:start:12`). A run **claims** the key (a `sending` row, committed)
before it sends, and marks the row after: `sent` with the provider's answer, `retrying` when every
channel provably failed to reach its provider (a later run claims it again), `failed` after the last attempt,
`unknown` when a channel may have got it (a timeout after the request went out, a reset, a 5xx): that
message is never sent again, on that channel or another. Whoever finds a key
already claimed moves on, so a job run twice, two runs sharing one fan-out, or a run after a restart
send each message once. A claim a crash left behind (`sending` past the lease) becomes `unknown` and is
never sent again: we cannot know whether the provider got it, and a double ping is the worse mistake.

At claim time the rules are checked again: withdrawn opt-in → `skipped`, quiet hours → `skipped_quiet_hours`.
Targets are unsealed only to be handed to Apprise, one target per `notify()` call so each answer is known;
send-log rows record the channel type and the error, never the target.
"""

from __future__ import annotations

import logging
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote

import apprise
from flask import current_app
from sqlalchemy import insert as insert_into
from sqlalchemy import select, update

from webapp.config import Settings
from webapp.extensions import db, insert_or_skip, utcnow
from webapp.notify import transport
from webapp.notify.models import Contact, Delivery, DeliveryStatus, Preference, SendLog
from webapp.notify.quiet_hours import in_quiet_hours
from webapp.notify.transport import Outcome
from webapp.outbox import services as outbox
from webapp.sealing import unseal

log = logging.getLogger(__name__)
logging.getLogger("apprise").setLevel(logging.WARNING)  # its debug lines carry full URLs
FINAL = frozenset(DeliveryStatus) - {DeliveryStatus.sending, DeliveryStatus.retrying}
KEY_HEADER = "X-Delivery-Key"  # json:// receivers get the ledger key and may de-duplicate by it


@dataclass(frozen=True)
class Message:
    key: str
    user_id: int | None
    title: str
    body: str


@dataclass(frozen=True)
class Reach:
    """What the rules need about one member, read once per run: opt-in, quiet hours, and the usable
    targets in the member's order as (channel, sealed target). Plain values, not ORM rows: every claim
    commits, and a commit expires every row the session holds — holding thousands of contacts made each
    commit cost O(recipients) and a fan-out quadratic."""

    opted_in: bool
    quiet_hours: str | None
    targets: list[tuple[str, str]]


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def backoff(attempts: int) -> timedelta:
    """The wait before a delivery's next try after `attempts` failed ones (the outbox's schedule, our base)."""
    return outbox.backoff(_settings().DELIVERY_BACKOFF_SECONDS, attempts)


def lease() -> timedelta:
    return timedelta(seconds=_settings().DELIVERY_LEASE_SECONDS)


# -- who can be reached how --------------------------------------------------------------------


def reach(workspace_id: int, user_ids: Iterable[int]) -> dict[int, Reach]:
    """Preferences and usable contacts (confirmed, with a target) of many members, as plain values, in two
    queries per 900 members. Targets follow the member's channel order; unranked channels after, by name."""
    ids = sorted(set(user_ids))
    prefs: dict[int, tuple[bool, list[str], str | None]] = {}
    targets: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        for user_id, opted_in, order, quiet in db.session.execute(
                select(Preference.user_id, Preference.opted_in, Preference.channel_order, Preference.quiet_hours)
                .where(Preference.workspace_id == workspace_id, Preference.user_id.in_(chunk))):
            prefs[user_id] = (bool(opted_in), order or [], quiet)
        for user_id, channel, sealed in db.session.execute(
                select(Contact.user_id, Contact.channel, Contact.target_sealed)
                .where(Contact.workspace_id == workspace_id, Contact.user_id.in_(chunk),
                       Contact.confirmed_at.is_not(None), Contact.target_sealed.is_not(None))):
            targets[user_id].append((channel.value, sealed))
    found = {}
    for user_id in ids:
        opted_in, order, quiet = prefs.get(user_id, (False, [], None))
        rank = {name: i for i, name in enumerate(order)}
        found[user_id] = Reach(opted_in=opted_in, quiet_hours=quiet,
                               targets=sorted(targets[user_id], key=lambda t: (rank.get(t[0], len(rank)), t[0])))
    return found


# -- the ledger --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A ledger row this run holds: its id and the attempts made before this one."""

    id: int
    attempts: int


def _claim(workspace_id: int, message: Message, source_type: str, source_id: int, now: datetime) -> Claim | None:
    """Take the message's key for this run, or None when somebody else holds it or it is settled.
    Statements, not ORM rows: a fan-out of thousands claims in a tight loop."""
    values = {"workspace_id": workspace_id, "key": message.key, "source_type": source_type, "source_id": source_id,
              "user_id": message.user_id, "status": DeliveryStatus.sending, "attempts": 0, "claimed_at": now}
    upsert = insert_or_skip(Delivery)
    claimed = db.session.execute(upsert.values(**values).on_conflict_do_nothing(index_elements=["key"])
                                 .returning(Delivery.id, Delivery.attempts)).first()
    if claimed is None:  # known key: only a row waiting for its retry can be claimed again
        claimed = db.session.execute(
            update(Delivery).where(Delivery.key == message.key, Delivery.status == DeliveryStatus.retrying)
            .values(status=DeliveryStatus.sending, claimed_at=now).returning(Delivery.id, Delivery.attempts)).first()
    db.session.commit()
    return Claim(*claimed) if claimed is not None else None


def _log(claim: Claim, attempt: int, status: str, channel: str | None, error: str | None) -> None:
    db.session.execute(insert_into(SendLog).values(delivery_id=claim.id, attempt=attempt, status=status,
                                                   channel=channel, error=error, created_at=utcnow()))


def _settle(claim: Claim, status: DeliveryStatus, *, channel: str | None = None, answer: str | None = None,
            error: str | None = None, attempt: bool = False, commit: bool = True) -> DeliveryStatus:
    """Record the outcome. Without `commit` it is written and commits with the run's next claim — still
    before the next send, so a crash in between leaves only this row `sending` (→ `unknown`)."""
    attempts = claim.attempts + 1 if attempt else claim.attempts
    values: dict[str, Any] = {"status": status, "attempts": attempts}
    if channel:
        values["channel"] = channel
    if answer:
        values["provider_answer"] = answer
    if status in FINAL:
        values["finished_at"] = utcnow()
    db.session.execute(update(Delivery).where(Delivery.id == claim.id).values(**values))
    _log(claim, max(attempts, 1), status.value, channel, error)
    if commit:
        db.session.commit()
    return status


# Schemes whose plugins talk only through the transports `transport.watch()` observes (requests, smtplib): only
# their refusals are provable. A refusal from any other plugin may hide a message that arrived.
OBSERVED_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "discord", "tgram", "signal", "signals",
                              "mailto", "mailtos"})


def _with_params(url: str, params: dict[str, str]) -> str:
    """Add query parameters the URL does not set itself (its own `cto=`/`rto=` win)."""
    query = url.split("?", 1)[1] if "?" in url else ""
    given = {part.split("=", 1)[0].lower() for part in query.split("&") if part}
    extra = "&".join(f"{name}={value}" for name, value in params.items() if name.lower() not in given)
    return url + ("&" if "?" in url else "?") + extra if extra else url


def send(url: str, title: str, body: str, key: str) -> tuple[Outcome, str]:
    """One Apprise target, one call: (outcome, answer). `Outcome.ambiguous` means it may have arrived: never send
    it again, on this channel or another. Never logs or returns the URL."""
    scheme = url.split("://", 1)[0].lower()
    timeout = f"{_settings().DELIVERY_TIMEOUT_SECONDS:g}"
    params = {"cto": timeout, "rto": timeout}
    if scheme in ("json", "jsons"):
        params[f"+{KEY_HEADER}"] = quote(key, safe="")
    # The target's own plugin, called directly: its answer is this target's, and it skips the thread pool
    # `Apprise.notify()` fans out to even for one target (about 1 ms a message). Called directly, it also never
    # runs Apprise's own retry loop (`?retry=`), which would repeat a send that timed out.
    plugin = apprise.Apprise.instantiate(_with_params(url, params))
    if plugin is None:
        return Outcome.refused, "the target is not an Apprise URL this server understands"
    with transport.watch() as seen:
        try:
            accepted = bool(plugin.notify(body=body, title=title))
        except Exception:  # noqa: BLE001 — the plugin's failure is this channel's, classified by what went out
            accepted = False
    outcome = seen.outcome(accepted, observable=scheme in OBSERVED_SCHEMES)
    if outcome is Outcome.sent:
        return outcome, "accepted"
    if outcome is Outcome.ambiguous:
        return outcome, f"may have reached the provider, so it is not sent again: {seen.describe()}"
    return outcome, f"did not reach the provider or was refused: {seen.describe()}"


def _deliver_one(claim: Claim, message: Message, targets: Sequence[tuple[str, str]], *,
                 dry_run: bool, commit: bool = True) -> DeliveryStatus:
    """Try each (channel, sealed target) in order; the first that accepts wins. A channel that may have got
    it ends the walk as `unknown`: no other channel, no retry. Only provable non-arrival moves on."""
    if not targets:
        return _settle(claim, DeliveryStatus.skipped, error="no confirmed contact with a delivery target",
                       commit=commit)
    if dry_run:
        return _settle(claim, DeliveryStatus.dry_run, channel=targets[0][0], answer="dry run: nothing sent",
                       commit=commit)
    errors = []
    for channel, sealed in targets:
        try:
            outcome, answer = send(unseal(sealed), message.title, message.body, message.key)
        except Exception as exc:  # noqa: BLE001 — a target we cannot unseal never reached anyone
            outcome, answer = Outcome.refused, type(exc).__name__
        if outcome is Outcome.sent:
            return _settle(claim, DeliveryStatus.sent, channel=channel, answer=answer, attempt=True, commit=commit)
        if outcome is Outcome.ambiguous:
            return _settle(claim, DeliveryStatus.unknown, channel=channel, error=answer, attempt=True, commit=commit)
        errors.append(f"{channel}: {answer}")
        _log(claim, claim.attempts + 1, "channel_failed", channel, answer)
    final = claim.attempts + 1 >= _settings().DELIVERY_MAX_ATTEMPTS
    return _settle(claim, DeliveryStatus.failed if final else DeliveryStatus.retrying, error="; ".join(errors),
                   attempt=True, commit=commit)


def deliver(workspace_id: int, source_type: str, source_id: int, messages: Sequence[Message], *,
            local_time: time, dry_run: bool, deadline: datetime | None = None, require_opt_in: bool = True,
            rotate: int = 0, heartbeat: Callable[[datetime], bool] | None = None) -> Counter[DeliveryStatus]:
    """Deliver each message at most once through its member's channels; what this run settled, by status.

    `rotate` starts the walk elsewhere in the list, so runs sharing a fan-out rarely meet on a key;
    `heartbeat(now)` is called before each claim (its writes commit with the claim); when it answers False the run
    stops claiming. One commit per
    message: its claim, which also carries the previous message's outcome."""
    people = reach(workspace_id, [m.user_id for m in messages if m.user_id is not None])
    outcome: Counter[DeliveryStatus] = Counter()
    start = rotate % len(messages) if messages else 0
    for message in [*messages[start:], *messages[:start]]:
        now = utcnow()
        if deadline is not None and now > deadline:
            break
        if heartbeat is not None and not heartbeat(now):
            break  # the source was called off (a cancelled campaign): nothing more is claimed
        claim = _claim(workspace_id, message, source_type, source_id, now)
        if claim is None:
            continue
        who = people.get(message.user_id) if message.user_id is not None else None
        if who is None or (require_opt_in and not who.opted_in):
            outcome[_settle(claim, DeliveryStatus.skipped, error="not opted in", commit=False)] += 1
        elif in_quiet_hours(who.quiet_hours, local_time):
            outcome[_settle(claim, DeliveryStatus.skipped_quiet_hours, commit=False)] += 1
        else:
            outcome[_deliver_one(claim, message, who.targets, dry_run=dry_run, commit=False)] += 1
    db.session.commit()  # the last outcome
    return outcome


def deliver_to(workspace_id: int, source_type: str, source_id: int, message: Message, sealed_target: str | None,
               *, dry_run: bool) -> DeliveryStatus | None:
    """One message to a workspace channel (not a member): the ready-check summary."""
    claim = _claim(workspace_id, message, source_type, source_id, utcnow())
    if claim is None:
        return None
    targets = [("summary", sealed_target)] if sealed_target else []
    return _deliver_one(claim, message, targets, dry_run=dry_run)


def withdraw(workspace_id: int, source_type: str, pending: Sequence[tuple[str, int]], user_id: int,
             now: datetime) -> int:
    """The member called off their own messages (`(key, source id)` each): a key nobody claimed yet is taken
    as `withdrawn`, one waiting for a retry becomes `withdrawn`; one claimed or settled stays as it is (it went
    out, or may have). The unique key makes this once per message, and a run that comes later finds it settled.
    How many were withdrawn; the caller commits."""
    upsert = insert_or_skip(Delivery)
    withdrawn = 0
    for key, source_id in pending:
        row = db.session.execute(upsert.values(
            workspace_id=workspace_id, key=key, source_type=source_type, source_id=source_id, user_id=user_id,
            status=DeliveryStatus.withdrawn, attempts=0, claimed_at=now, finished_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(Delivery.id, Delivery.attempts)).first()
        if row is None:
            row = db.session.execute(
                update(Delivery).where(Delivery.key == key, Delivery.status == DeliveryStatus.retrying)
                .values(status=DeliveryStatus.withdrawn, finished_at=now)
                .returning(Delivery.id, Delivery.attempts)).first()
        if row is not None:
            _log(Claim(*row), max(row.attempts, 1), DeliveryStatus.withdrawn.value, None,
                 "the member answered they cannot come")
            withdrawn += 1
    return withdrawn


def in_flight(source_type: str, source_id: int, now: datetime) -> list[datetime]:
    """Claim times of this source's `sending` rows still within the lease (another run is on them)."""
    return list(db.session.scalars(select(Delivery.claimed_at).where(
        Delivery.source_type == source_type, Delivery.source_id == source_id,
        Delivery.status == DeliveryStatus.sending, Delivery.claimed_at > now - lease())))


def waiting(source_type: str, source_id: int) -> list[int]:
    """Attempts so far of this source's deliveries that wait for a retry."""
    return list(db.session.scalars(select(Delivery.attempts).where(
        Delivery.source_type == source_type, Delivery.source_id == source_id,
        Delivery.status == DeliveryStatus.retrying)))


def settle_source(source_type: str, source_id: int, now: datetime, *, reason: str | None = None) -> None:
    """Close what is left of a source for good: retries → failed (`reason`: why no more attempt is made),
    claims past the lease → unknown."""
    for status, new in ((DeliveryStatus.retrying, DeliveryStatus.failed), (DeliveryStatus.sending, DeliveryStatus.unknown)):
        query = select(Delivery).where(Delivery.source_type == source_type, Delivery.source_id == source_id,
                                       Delivery.status == status)
        if status is DeliveryStatus.sending:
            query = query.where(Delivery.claimed_at <= now - lease())
        for row in db.session.scalars(query).all():
            why = ((reason or "its deadline passed before another attempt") if new is DeliveryStatus.failed
                   else "a claim left by a crash: the provider may or may not have it, so it is not sent again")
            row.status, row.finished_at = new, now
            db.session.add(SendLog(delivery_id=row.id, attempt=max(row.attempts, 1), status=new.value,
                                   channel=row.channel, error=why))
    db.session.commit()


def wait_for_others(source_type: str, source_id: int, patience: float = 5.0) -> list[datetime]:
    """Give runs sharing this source a moment to settle the message they hold; what is still held."""
    held = in_flight(source_type, source_id, utcnow())
    deadline = clock.monotonic() + patience
    while held and clock.monotonic() < deadline:
        clock.sleep(0.1)
        db.session.expire_all()
        held = in_flight(source_type, source_id, utcnow())
    return held
