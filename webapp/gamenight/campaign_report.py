"""What a campaign did: its deliveries counted per job and outcome, per channel, its recipients, their answers,
and the send log of the campaign page — all read from the delivery ledger (counted in SQL: the page polls them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.gamenight import players
from webapp.gamenight.models import Answer, Campaign, CampaignAnswer, CampaignJob, CampaignRecipient
from webapp.notify.models import Delivery, DeliveryStatus, SendLog

SOURCE = "campaign_job"  # the ledger's source type of campaign deliveries

# The ledger rows of a campaign's jobs (counted in SQL: the campaign page polls these every 2 s).
# The promoter's quorum warning rides on the reminder job (its run settles it like the reminders) but is not a
# message to a recipient: the job's counts, the campaign's outcome and the channel counts leave it out.
QUORUM = ":quorum:"
_OF_JOB_ALL = (Delivery.source_type == SOURCE) & (Delivery.source_id == CampaignJob.id)
_OF_JOB = _OF_JOB_ALL & ~Delivery.key.contains(QUORUM)


def quorum_key(campaign: Campaign) -> str:
    return f"campaign:{campaign.id}{QUORUM}{campaign.promoter_id}"


def outcome_counts(campaign: Campaign) -> dict[str, dict[str, int]]:
    """Per job kind: how many deliveries ended in each status."""
    counts: dict[str, dict[str, int]] = {j.kind.value: {} for j in campaign.jobs}
    rows = db.session.execute(select(CampaignJob.kind, Delivery.status, func.count()).join(Delivery, _OF_JOB)
                              .where(CampaignJob.campaign_id == campaign.id)
                              .group_by(CampaignJob.kind, Delivery.status))
    for kind, status, n in rows:
        counts.setdefault(kind.value, {})[status.value] = n
    return counts


def channel_counts(campaign: Campaign) -> dict[str, int]:
    """Messages sent, per channel."""
    rows = db.session.execute(select(Delivery.channel, func.count()).join(CampaignJob, _OF_JOB)
                              .where(CampaignJob.campaign_id == campaign.id, Delivery.status == DeliveryStatus.sent)
                              .group_by(Delivery.channel))
    return {channel or "none": n for channel, n in rows}


def recipient_counts(campaign_ids: Sequence[int]) -> dict[int, int]:
    """How many members each campaign's snapshot holds (one query for a whole list)."""
    rows = db.session.execute(select(CampaignRecipient.campaign_id, func.count())
                              .where(CampaignRecipient.campaign_id.in_(list(campaign_ids)))
                              .group_by(CampaignRecipient.campaign_id))
    found = {campaign_id: n for campaign_id, n in rows}
    return {campaign_id: found.get(campaign_id, 0) for campaign_id in campaign_ids}


@dataclass(frozen=True)
class LogLine:
    at: datetime
    kind: str
    member: str
    attempt: int
    status: str
    channel: str | None
    error: str | None


def send_log(campaign: Campaign, limit: int = 200) -> list[LogLine]:
    """The newest attempts of the campaign's deliveries: who (by player name), outcome, channel type, error."""
    rows = db.session.execute(
        select(SendLog.created_at, CampaignJob.kind, Delivery.key, Delivery.user_id, SendLog.attempt, SendLog.status,
               SendLog.channel, SendLog.error)
        .join(Delivery, Delivery.id == SendLog.delivery_id)
        .join(CampaignJob, _OF_JOB_ALL)
        .where(CampaignJob.campaign_id == campaign.id).order_by(SendLog.id.desc()).limit(limit)).all()
    users = sorted({r.user_id for r in rows if r.user_id})
    names = players.player_names(campaign.workspace_id, users)
    return [LogLine(at=r.created_at, kind="Quorum warning" if QUORUM in r.key else r.kind.label,
                    member=names.get(r.user_id, "summary channel"),
                    attempt=r.attempt, status=r.status, channel=r.channel, error=r.error) for r in rows]


@dataclass(frozen=True)
class AnswerLine:
    member: str
    answer: Answer
    late_minutes: int | None
    answered_at: datetime


def answers(campaign: Campaign) -> list[AnswerLine]:
    """The recipients' answers to the reminder by player name, newest first."""
    rows = db.session.scalars(select(CampaignAnswer).where(CampaignAnswer.campaign_id == campaign.id)
                              .order_by(CampaignAnswer.answered_at.desc(), CampaignAnswer.user_id)).all()
    names = players.player_names(campaign.workspace_id, [r.user_id for r in rows])
    return [AnswerLine(member=names.get(r.user_id, "member"), answer=r.answer, late_minutes=r.late_minutes,
                       answered_at=r.answered_at) for r in rows]


def answer_counts(campaign_id: int) -> dict[str, int]:
    """How many recipients answered in, late and can't (keys `in`, `late`, `cant`)."""
    found = dict(db.session.execute(select(CampaignAnswer.answer, func.count())
                                    .where(CampaignAnswer.campaign_id == campaign_id)
                                    .group_by(CampaignAnswer.answer)).all())
    return {a.value: found.get(a, 0) for a in Answer}
