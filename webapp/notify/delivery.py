"""The delivery ledger: every message that must go out at most once passes here.

    outcome = delivery.deliver(workspace_id, "campaign_job", job.id, messages, local_time=..., dry_run=False)

Each message has a unique key (`campaign:7:start:12`). A run **claims** the key (a `sending` row, committed)
before it sends, and marks the row after: `sent` with the provider's answer, `retrying` when every
channel failed (a later run claims it again), `failed` after the last attempt. Whoever finds a key
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
from urllib.parse import quote

import apprise
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from webapp.config import Settings
from webapp.extensions import db, utcnow
from webapp.notify.models import Contact, Delivery, DeliveryStatus, Preference, SendLog
from webapp.notify.services import in_quiet_hours
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
    """What the rules need about one member, read once per run: opt-in, quiet hours, contacts in order."""

    opted_in: bool
    quiet_hours: str | None
    contacts: list[Contact]


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=_settings().DELIVERY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))


def lease() -> timedelta:
    return timedelta(seconds=_settings().DELIVERY_LEASE_SECONDS)


# -- who can be reached how --------------------------------------------------------------------


def ordered(contacts: Sequence[Contact], channel_order: Sequence[str]) -> list[Contact]:
    """Usable contacts (confirmed, with a target) in the member's order; unranked channels after, by name."""
    rank = {name: i for i, name in enumerate(channel_order)}
    usable = [c for c in contacts if c.confirmed_at is not None and c.target_sealed]
    return sorted(usable, key=lambda c: (rank.get(c.channel.value, len(rank)), c.channel.value))


def reach(workspace_id: int, user_ids: Iterable[int]) -> dict[int, Reach]:
    """Preferences and contacts of many members in two queries (chunked for large campaigns)."""
    ids = sorted(set(user_ids))
    prefs: dict[int, Preference] = {}
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        prefs.update((p.user_id, p) for p in db.session.scalars(select(Preference).where(
            Preference.workspace_id == workspace_id, Preference.user_id.in_(chunk))))
        for contact in db.session.scalars(select(Contact).where(Contact.workspace_id == workspace_id,
                                                                Contact.user_id.in_(chunk))):
            contacts[contact.user_id].append(contact)
    found = {}
    for user_id in ids:
        pref = prefs.get(user_id)
        order = pref.channel_order if pref else []
        found[user_id] = Reach(opted_in=bool(pref and pref.opted_in), quiet_hours=pref.quiet_hours if pref else None,
                               contacts=ordered(contacts[user_id], order))
    return found


def delivery_order(workspace_id: int, user_id: int) -> list[Contact]:
    return reach(workspace_id, [user_id])[user_id].contacts


# -- the ledger --------------------------------------------------------------------------------


def _claim(workspace_id: int, message: Message, source_type: str, source_id: int, now: datetime) -> Delivery | None:
    """Take the message's key for this run, or None when somebody else holds it or it is settled."""
    values = {"workspace_id": workspace_id, "key": message.key, "source_type": source_type, "source_id": source_id,
              "user_id": message.user_id, "status": DeliveryStatus.sending, "attempts": 0, "claimed_at": now}
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Delivery)
    new_id = db.session.scalar(insert.values(**values).on_conflict_do_nothing(index_elements=["key"])
                               .returning(Delivery.id))
    if new_id is None:  # known key: only a row waiting for its retry can be claimed again
        new_id = db.session.scalar(
            update(Delivery).where(Delivery.key == message.key, Delivery.status == DeliveryStatus.retrying)
            .values(status=DeliveryStatus.sending, claimed_at=now).returning(Delivery.id))
    db.session.commit()
    return db.session.get(Delivery, new_id) if new_id is not None else None


def _settle(row: Delivery, status: DeliveryStatus, *, channel: str | None = None, answer: str | None = None,
            error: str | None = None, attempt: bool = False) -> DeliveryStatus:
    row.status, row.channel = status, channel or row.channel
    row.provider_answer = answer or row.provider_answer
    if attempt:
        row.attempts += 1
    if status in FINAL:
        row.finished_at = utcnow()
    db.session.add(SendLog(delivery_id=row.id, attempt=max(row.attempts, 1), status=status.value,
                           channel=channel, error=error))
    db.session.commit()
    return status


def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
    """One Apprise target, one call: (accepted, answer). Never logs or returns the URL."""
    if url.split("://", 1)[0].lower() in ("json", "jsons"):
        url += ("&" if "?" in url else "?") + f"+{KEY_HEADER}={quote(key, safe='')}"
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False, "the target is not an Apprise URL this server understands"
    if notifier.notify(title=title, body=body):
        return True, "accepted"
    return False, "the provider refused it or could not be reached"


def _deliver_one(row: Delivery, message: Message, targets: Sequence[tuple[str, str]], *,
                 dry_run: bool) -> DeliveryStatus:
    """Try each (channel, sealed target) in order; the first that accepts wins."""
    if not targets:
        return _settle(row, DeliveryStatus.skipped, error="no confirmed contact with a delivery target")
    if dry_run:
        return _settle(row, DeliveryStatus.dry_run, channel=targets[0][0], answer="dry run: nothing sent")
    errors = []
    for channel, sealed in targets:
        try:
            ok, answer = send(unseal(sealed), message.title, message.body, message.key)
        except Exception as exc:  # noqa: BLE001 — an unusable target is this channel's failure, not the run's
            ok, answer = False, type(exc).__name__
        if ok:
            return _settle(row, DeliveryStatus.sent, channel=channel, answer=answer, attempt=True)
        errors.append(f"{channel}: {answer}")
        db.session.add(SendLog(delivery_id=row.id, attempt=row.attempts + 1, status="channel_failed",
                               channel=channel, error=answer))
    final = row.attempts + 1 >= _settings().DELIVERY_MAX_ATTEMPTS
    return _settle(row, DeliveryStatus.failed if final else DeliveryStatus.retrying, error="; ".join(errors),
                   attempt=True)


def deliver(workspace_id: int, source_type: str, source_id: int, messages: Sequence[Message], *,
            local_time: time, dry_run: bool, deadline: datetime | None = None, require_opt_in: bool = True,
            rotate: int = 0, heartbeat: Callable[[datetime], None] | None = None) -> Counter[DeliveryStatus]:
    """Deliver each message at most once through its member's channels; what this run settled, by status.

    `rotate` starts the walk elsewhere in the list, so runs sharing a fan-out rarely meet on a key;
    `heartbeat(now)` is called before each claim (its writes commit with the claim)."""
    people = reach(workspace_id, [m.user_id for m in messages if m.user_id is not None])
    outcome: Counter[DeliveryStatus] = Counter()
    start = rotate % len(messages) if messages else 0
    for message in [*messages[start:], *messages[:start]]:
        now = utcnow()
        if deadline is not None and now > deadline:
            break
        if heartbeat is not None:
            heartbeat(now)
        row = _claim(workspace_id, message, source_type, source_id, now)
        if row is None:
            continue
        who = people.get(message.user_id) if message.user_id is not None else None
        if who is None or (require_opt_in and not who.opted_in):
            outcome[_settle(row, DeliveryStatus.skipped, error="not opted in")] += 1
        elif in_quiet_hours(who.quiet_hours, local_time):
            outcome[_settle(row, DeliveryStatus.skipped_quiet_hours)] += 1
        else:
            targets = [(c.channel.value, c.target_sealed) for c in who.contacts if c.target_sealed]
            outcome[_deliver_one(row, message, targets, dry_run=dry_run)] += 1
    return outcome


def deliver_to(workspace_id: int, source_type: str, source_id: int, message: Message, sealed_target: str | None,
               *, dry_run: bool) -> DeliveryStatus | None:
    """One message to a workspace channel (not a member): the ready-check summary."""
    row = _claim(workspace_id, message, source_type, source_id, utcnow())
    if row is None:
        return None
    targets = [("summary", sealed_target)] if sealed_target else []
    return _deliver_one(row, message, targets, dry_run=dry_run)


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


def settle_source(source_type: str, source_id: int, now: datetime) -> None:
    """Close what is left of a source for good: retries → failed, claims past the lease → unknown."""
    for status, new in ((DeliveryStatus.retrying, DeliveryStatus.failed), (DeliveryStatus.sending, DeliveryStatus.unknown)):
        query = select(Delivery).where(Delivery.source_type == source_type, Delivery.source_id == source_id,
                                       Delivery.status == status)
        if status is DeliveryStatus.sending:
            query = query.where(Delivery.claimed_at <= now - lease())
        for row in db.session.scalars(query).all():
            reason = ("its deadline passed before another attempt" if new is DeliveryStatus.failed
                      else "a claim left by a crash: the provider may or may not have it, so it is not sent again")
            row.status, row.finished_at = new, now
            db.session.add(SendLog(delivery_id=row.id, attempt=max(row.attempts, 1), status=new.value,
                                   channel=row.channel, error=reason))
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
