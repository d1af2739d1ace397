"""Steps the game-night tests share: a start soon in the workspace's zone, running a campaign's job, reading
the ledger, a campaign body for the API, counting rows."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.extensions import db as _db
from webapp.extensions import utcnow
from webapp.gamenight import campaign_runs
from webapp.gamenight.models import Campaign, CampaignJob, JobKind
from webapp.notify.models import Delivery

LJUBLJANA = ZoneInfo("Europe/Ljubljana")
SECRET_TARGET = "json://relay.example/hook/secret-4821"


def soon(minutes: int = 20) -> dict[str, str]:
    """A start `minutes` from now, as the local date and HH:MM of the workspace (Ljubljana)."""
    local = (utcnow() + timedelta(minutes=minutes)).astimezone(LJUBLJANA)
    return {"day": local.date().isoformat(), "start_time": local.strftime("%H:%M")}


def tomorrow_at(clock: str) -> dict[str, str]:
    """A start at `clock` (HH:MM) tomorrow in the workspace's zone: two of them share a local day at any hour the
    suite runs (two `soon()`s straddle midnight in the evening's last half hour)."""
    return {"day": (utcnow().astimezone(LJUBLJANA).date() + timedelta(days=1)).isoformat(), "start_time": clock}


def job(campaign: Campaign, kind: JobKind) -> CampaignJob:
    return next(j for j in campaign.jobs if j.kind is kind)


def run(db, campaign: Campaign, kind: JobKind, **kwargs) -> str:
    found = job(campaign, kind)
    outcome = campaign_runs.run_job(found.id, now=found.run_at, **kwargs)
    db.session.expire_all()
    return outcome


def run_until_done(db, campaign: Campaign, kind: JobKind) -> None:
    for _ in range(10):
        if run(db, campaign, kind) == "done":
            return
    raise AssertionError(f"{kind} never finished")


def due_now(db, found: CampaignJob) -> CampaignJob:
    """Bring a job's time to now (presence reports are judged against the run's time)."""
    found.run_at, found.deadline_at = utcnow(), utcnow() + timedelta(hours=1)
    db.session.commit()
    return found


def ledger(db, **where) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.key)
    for name, value in where.items():
        query = query.where(getattr(Delivery, name) == value)
    return list(db.session.scalars(query))


def body(**extra) -> dict:
    """A campaign API body: a start soon, available and looking members."""
    when = soon()
    return {"date": when["day"], "start_time": when["start_time"], "statuses": ["available", "looking"]} | extra


def assert_no_handle(text: str) -> None:
    assert "relay.example" not in text and "secret-4821" not in text and "ext-" not in text


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))
