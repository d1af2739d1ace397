"""A recipient answers a campaign's reminder: "in", "late N" or "can't" — from a chat through the bot API, or on
the page the reminder links to.

"can't" is final: that night's availability becomes not available, and the member's messages not yet claimed
(the start call, the ready-check nudge, a reminder not yet sent) are taken in the ledger as `withdrawn`, so no run,
retry, restart or reconciler sends them. The answer row changes to "can't" once (a conditional update), so the
withdrawal, its audit event and its ledger rows happen once, however often and however concurrently it is sent.
"late N" (1 to 120 minutes) moves that member's ready-check nudge N minutes later and shows in the summary;
"in" takes a "late" back. Both make the member available that night (looking stays looking): they said they come.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from sqlalchemy import select, update

from webapp.accounts.models import Membership
from webapp.audit import services as audit
from webapp.commands import Command, Id, bad_request, invalid, whole
from webapp.errors import Conflict, NotFound
from webapp.extensions import db, insert_or_skip, utcnow
from webapp.gamenight import campaign_links, campaign_runs
from webapp.gamenight.campaign_plans import DEADLINES
from webapp.gamenight.campaign_report import SOURCE
from webapp.gamenight.models import (
    LATE_MINUTES_MAX,
    LATE_MINUTES_MIN,
    Answer,
    Availability,
    Campaign,
    CampaignAnswer,
    CampaignJob,
    CampaignRecipient,
    CampaignStatus,
    JobKind,
    JobStatus,
    Status,
)
from webapp.gamenight.players import ChatIdentity
from webapp.notify import delivery

ANSWER_RULE = "is in, late N (N minutes, 1 to 120) or can't"
_WORDS = re.compile(r"(?P<in>in)|(?P<late>late)(?:\s*\+?\s*(?P<n>[0-9]{1,6})\s*(?:m|min|mins|minutes?)?)?"
                    r"|(?P<cant>can'?t|cannot|can not)", re.IGNORECASE)
WITHDRAWN_KINDS = (JobKind.reminder, JobKind.start, JobKind.ready_check)


def _words(value: Any) -> str:
    """The words as sent ("In", "late 15", "late +15 min", "can't", "cant", "can’t") as `in`, `late`, `late N`
    or `cant`; 400 for anything else, 422 for minutes out of range."""
    if not isinstance(value, str):
        raise bad_request(ANSWER_RULE)
    text = " ".join(value.replace("\u2019", "'").split()).rstrip(".!")
    match = _WORDS.fullmatch(text)
    if match is None:
        raise bad_request(ANSWER_RULE)
    if match["in"]:
        return "in"
    if match["cant"]:
        return "cant"
    if match["n"] is None:
        return "late"
    if not LATE_MINUTES_MIN <= int(match["n"]) <= LATE_MINUTES_MAX:
        raise invalid(f"late takes {LATE_MINUTES_MIN} to {LATE_MINUTES_MAX} minutes")
    return f"late {int(match['n'])}"


class AnswerCommand(Command):
    """An answer to a reminder: `answer` is "in", "late N" or "can't"; the page's form may send "late" with
    `late_minutes` apart."""

    answer: Annotated[str, BeforeValidator(_words), Field(examples=["in", "late 15", "can't"])] = Field(
        "", validate_default=True)
    late_minutes: whole(LATE_MINUTES_MIN, LATE_MINUTES_MAX) | None = Field(  # type: ignore[valid-type]
        None, validate_default=True)

    @field_validator("late_minutes", mode="after")
    @classmethod
    def _late_needs_minutes(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("answer") == "late" and value is None:
            raise invalid("late needs the minutes, e.g. late 15")
        return value

    @property
    def reply(self) -> tuple[Answer, int | None]:
        word, _, minutes = self.answer.partition(" ")
        if word == "late":
            return Answer.late, int(minutes) if minutes else self.late_minutes
        return (Answer.coming if word == "in" else Answer.cant), None


class BotAnswerCommand(ChatIdentity, AnswerCommand):
    """A bot passes on what the member behind a chat identity answered; without `campaign_id`, it answers every
    running campaign of the member's next night."""

    campaign_id: Id | None = None  # type: ignore[valid-type]


@dataclass(frozen=True)
class Answered:
    campaign_id: int
    answer: Answer
    late_minutes: int | None
    changed: bool  # False: the same answer again, nothing done
    withdrawn: int  # ledger rows this answer withdrew (only the first "can't" withdraws)
    nudge_at: datetime | None  # a late member's ready-check nudge

    def as_json(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "answer": self.answer.value, "late_minutes": self.late_minutes,
                "changed": self.changed, "withdrawn": self.withdrawn,
                "nudge_at": self.nudge_at.isoformat() if self.nudge_at else None}


# -- which campaign ------------------------------------------------------------------------------


def _recipient_of(workspace_id: int, user_id: int, campaign_id: int) -> Campaign:
    campaign = db.session.scalar(select(Campaign).join(CampaignRecipient).where(
        Campaign.id == campaign_id, Campaign.workspace_id == workspace_id, CampaignRecipient.user_id == user_id))
    if campaign is None:
        raise NotFound("No such game night for this member.", code="no_campaign")
    return campaign


def campaigns_for(workspace_id: int, user_id: int, campaign_id: int | None = None) -> list[Campaign]:
    """The campaigns an answer is for: the one named, or the member's running (scheduled or sending) campaigns of
    their next night; 404 `no_campaign` when there is none."""
    if campaign_id is not None:
        return [_recipient_of(workspace_id, user_id, campaign_id)]
    running = db.session.scalars(select(Campaign).join(CampaignRecipient).where(
        Campaign.workspace_id == workspace_id, CampaignRecipient.user_id == user_id,
        Campaign.status.in_([CampaignStatus.scheduled, CampaignStatus.sending]))
        .order_by(Campaign.start_at, Campaign.id)).all()
    if not running:
        raise NotFound("You have no game night to answer: nobody promoted one you are invited to, or it is over.",
                       code="no_campaign")
    return [c for c in running if c.local_day == running[0].local_day]


def campaign_for_link(token: str) -> tuple[Campaign, int]:
    """The campaign and recipient of a reminder's answer link; 404 `link_invalid` (also once the member has left
    the workspace)."""
    campaign_id, user_id = campaign_links.read_answer_token(token)
    campaign = db.session.get(Campaign, campaign_id)
    if (campaign is None or db.session.get(CampaignRecipient, (campaign_id, user_id)) is None
            or db.session.scalar(select(Membership.id).where(Membership.workspace_id == campaign.workspace_id,
                                                             Membership.user_id == user_id)) is None):
        raise NotFound("This answer link is not valid any more.", code="link_invalid")
    return campaign, user_id


def answer_each(found: list[Campaign], user_id: int, command: AnswerCommand, *, source: str) -> list[Answered]:
    """One answer for each of a night's campaigns (each commits on its own): those that refuse it (over, or "in"
    after a "can't" there) are left out while another took it; the first refusal is the answer when all do."""
    done: list[Answered] = []
    refused: list[Conflict] = []
    for campaign in found:
        try:
            done.append(answer(campaign, user_id, command, source=source))
        except Conflict as exc:
            refused.append(exc)
    if not done:
        raise refused[0]
    return done


def current(campaign_id: int, user_id: int) -> CampaignAnswer | None:
    return db.session.get(CampaignAnswer, (campaign_id, user_id))


# -- answering -----------------------------------------------------------------------------------


def answer(campaign: Campaign, user_id: int, command: AnswerCommand, *, source: str,
           now: datetime | None = None) -> Answered:
    """Record a recipient's answer to `campaign` (see the module's text); 409 when the night is over or cancelled,
    or when "in"/"late" follows a "can't"."""
    word, minutes = command.reply
    now = now or utcnow()
    if not campaign.status.active:
        raise Conflict(f"This game night is {campaign.status.value}; answers are closed.", code="campaign_closed")
    was = current(campaign.id, user_id)
    if was is not None and was.answer is Answer.cant:
        if word is Answer.cant:
            return Answered(campaign.id, word, None, changed=False, withdrawn=0, nudge_at=None)
        raise Conflict("You already answered that you cannot come; we send you nothing more for this night.",
                       code="already_withdrawn")
    if was is not None and (was.answer, was.late_minutes) == (word, minutes):
        return Answered(campaign.id, word, minutes, changed=False, withdrawn=0, nudge_at=_nudge_at(campaign, was))
    if not _store(campaign.id, user_id, word, minutes, source, now):  # a concurrent "can't" won
        db.session.rollback()
        return answer(campaign, user_id, command, source=source, now=now)
    withdrawn = _withdraw(campaign, user_id, now) if word is Answer.cant else _coming(campaign, user_id)
    nudge_at = _move_nudge(campaign, minutes) if word is Answer.late else None
    audit.record(None, "campaign.answered", "campaign", campaign.id,
                 {"user_id": user_id, "answer": word.value, "late_minutes": minutes, "withdrawn": withdrawn},
                 workspace_id=campaign.workspace_id, actor_label=source if source == "web" else f"bot ({source})")
    db.session.commit()
    return Answered(campaign.id, word, minutes, changed=True, withdrawn=withdrawn, nudge_at=nudge_at)


def _store(campaign_id: int, user_id: int, word: Answer, minutes: int | None, source: str, now: datetime) -> bool:
    """Write the answer unless the row says "can't" (an insert that yields to a concurrent one, then a
    conditional update): False when a "can't" stands, whoever wrote it."""
    values = {"answer": word, "late_minutes": minutes, "source": source, "answered_at": now,
              "withdrawn_at": now if word is Answer.cant else None}
    upsert = insert_or_skip(CampaignAnswer)
    inserted = db.session.execute(upsert.values(campaign_id=campaign_id, user_id=user_id, **values)
                                  .on_conflict_do_nothing().returning(CampaignAnswer.user_id)).first()
    if inserted is not None:
        return True
    return bool(db.session.execute(update(CampaignAnswer).where(
        CampaignAnswer.campaign_id == campaign_id, CampaignAnswer.user_id == user_id,
        CampaignAnswer.answer != Answer.cant).values(**values)).rowcount)


def _set_day(campaign: Campaign, user_id: int, status: Status, *, keep: tuple[Status, ...] = ()) -> None:
    """The member's availability on the campaign's day becomes `status` (unless it is one of `keep`)."""
    row = db.session.scalar(select(Availability).where(Availability.workspace_id == campaign.workspace_id,
                                                       Availability.user_id == user_id,
                                                       Availability.day == campaign.local_day))
    if row is None:
        db.session.add(Availability(workspace_id=campaign.workspace_id, user_id=user_id, day=campaign.local_day,
                                    status=status))
    elif row.status not in keep:
        row.status = status


def _coming(campaign: Campaign, user_id: int) -> int:
    """"in" or "late": the member is coming, so that night they are available (looking stays looking) — the
    ready-check expects them and nudges them when they are not in voice. Nothing is withdrawn."""
    _set_day(campaign, user_id, Status.available, keep=(Status.available, Status.looking))
    return 0


def _withdraw(campaign: Campaign, user_id: int, now: datetime) -> int:
    """That night not available, and the member's pings not yet claimed withdrawn in the ledger."""
    _set_day(campaign, user_id, Status.not_available)
    jobs = [j for j in campaign.jobs if j.kind in WITHDRAWN_KINDS]
    return delivery.withdraw(campaign.workspace_id, SOURCE,
                             [(f"campaign:{campaign.id}:{j.kind.value}:{user_id}", j.id) for j in jobs], user_id, now)


def _ready_check(campaign: Campaign) -> CampaignJob | None:
    return next((j for j in campaign.jobs if j.kind is JobKind.ready_check), None)


def _nudge_at(campaign: Campaign, row: CampaignAnswer) -> datetime | None:
    check = _ready_check(campaign)
    if check is None or row.answer is not Answer.late or row.late_minutes is None:
        return None
    return check.run_at + timedelta(minutes=row.late_minutes)


def _move_nudge(campaign: Campaign, minutes: int | None) -> datetime | None:
    """The ready-check nudges this member `minutes` later: its deadline makes room, and a ready-check that
    already ran and waits for its late ones runs again at this member's time if that is sooner."""
    check = _ready_check(campaign)
    if check is None or minutes is None:
        return None
    if check.status not in (JobStatus.scheduled, JobStatus.running):  # the ready-check is over: nothing to move
        return None
    at = check.run_at + timedelta(minutes=minutes)
    check.deadline_at = max(check.deadline_at, at + DEADLINES[JobKind.ready_check])
    waiting_for_late = check.status is JobStatus.scheduled and check.started_at is not None
    if waiting_for_late and (check.next_run_at or check.run_at) > at:
        campaign_runs.schedule_after_commit(check, at)
    return at
