"""Recurring game nights: a weekly schedule's nights keep their local start across DST switches (Ljubljana) and
in a zone without DST (Tokyo), each night's campaign is created hours ahead through `campaigns.create` with its
guards (one per promoter and local day, the promoter's role, opt-in), at most once per night, a minimum of ready
players holds a night back, a night whose window passed is `missed`, skipping and pausing stop it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import Membership, Role, Workspace
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest, Conflict, Forbidden, Invalid
from webapp.gamenight import campaigns, schedules
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import (
    Campaign,
    CampaignStatus,
    JobKind,
    NightSchedule,
    NightStatus,
    ScheduledNight,
)
from webapp.gamenight.schedules import ScheduleCommand


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def weekly(promoter, now: datetime, **fields) -> NightSchedule:
    fields.setdefault("weekdays", ["sat", "sun"])
    fields.setdefault("start_time", "21:00")
    return schedules.create(promoter, ScheduleCommand(**fields), now=now)


def nights(schedule: NightSchedule) -> dict[date, ScheduledNight]:
    return {n.local_day: n for n in schedule.nights}


def set_zone(db, actor, zone: str) -> None:
    db.session.get(Workspace, actor.workspace_id).time_zone = zone
    db.session.commit()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- local times across DST ----------------------------------------------------------------------


def test_nights_start_at_the_local_time_on_both_sides_of_the_spring_switch_in_ljubljana(db, promoter):
    # Europe/Ljubljana moves to CEST on Sunday 2027-03-28: 21:00 is 20:00 UTC the day before, 19:00 UTC on it.
    schedule = weekly(promoter, at("2027-03-22T12:00"))
    found = nights(schedule)
    assert found[date(2027, 3, 27)].start_at == at("2027-03-27T20:00")
    assert found[date(2027, 3, 28)].start_at == at("2027-03-28T19:00")
    assert found[date(2027, 4, 3)].start_at == at("2027-04-03T19:00")
    # Created 24 real hours ahead: the night of the switch is created at 20:00 local the day before.
    assert found[date(2027, 3, 28)].create_at == at("2027-03-27T19:00")
    assert set(found) == {date(2027, 3, 27), date(2027, 3, 28), date(2027, 4, 3), date(2027, 4, 4)}
    assert all(n.status is NightStatus.pending for n in found.values())


def test_nights_start_at_the_local_time_on_both_sides_of_the_autumn_switch_in_ljubljana(db, promoter):
    # Back to CET on Sunday 2027-10-31.
    schedule = weekly(promoter, at("2027-10-25T12:00"), weekdays=["sat", "sun", "mon"])
    found = nights(schedule)
    assert found[date(2027, 10, 30)].start_at == at("2027-10-30T19:00")
    assert found[date(2027, 10, 31)].start_at == at("2027-10-31T20:00")
    assert found[date(2027, 11, 1)].start_at == at("2027-11-01T20:00")


def test_in_a_zone_without_dst_every_night_is_the_same_utc_time(db, promoter):
    set_zone(db, promoter, "Asia/Tokyo")
    schedule = weekly(promoter, at("2027-03-22T00:00"), weekdays=["sat", "sun"])
    starts = {n.start_at.time() for n in schedule.nights}
    assert starts == {at("2027-03-27T12:00").time()}  # 21:00 JST is 12:00 UTC, switch or not
    assert len(schedule.nights) == 4


def test_a_nights_campaign_runs_its_jobs_at_the_dst_correct_times(db, promoter, factories):
    schedule = weekly(promoter, at("2027-03-22T12:00"), lead_minutes=20)
    night = nights(schedule)[date(2027, 3, 28)]
    assert schedules.run_night(night.id, now=night.create_at) == "created"
    db.session.refresh(night)
    campaign = db.session.get(Campaign, night.campaign_id)
    runs = {j.kind: j.run_at for j in campaign.jobs}
    assert runs[JobKind.reminder] == at("2027-03-28T18:40")
    assert runs[JobKind.start] == at("2027-03-28T19:00")
    assert campaign.local_day == date(2027, 3, 28) and campaign.promoter_id == promoter.user_id


def test_a_worker_outage_across_the_spring_switch_catches_the_night_up_once_at_its_summer_time(db, promoter, redis):
    schedule = weekly(promoter, at("2027-03-22T12:00"))  # Saturdays and Sundays at 21:00, created 24 h ahead
    saturday, sunday = nights(schedule)[date(2027, 3, 27)], nights(schedule)[date(2027, 3, 28)]
    redis.flushdb()  # no worker from Friday evening on, and Redis came back empty
    back = at("2027-03-28T02:30")  # the worker returns after the clocks went forward (01:00 UTC)
    assert schedules.reconcile(now=back)["scheduled_nights_enqueued"] == 2
    assert schedules.run_night(saturday.id, now=back) == "missed"  # its whole window passed: never promoted late
    assert schedules.run_night(sunday.id, now=back) == "created"
    assert schedules.run_night(sunday.id, now=back + timedelta(minutes=1)) == "created"  # a second run: nothing new
    assert schedules.reconcile(now=back + timedelta(minutes=5))["scheduled_nights_enqueued"] == 0
    [campaign] = db.session.scalars(select(Campaign)).all()
    assert campaign.local_day == date(2027, 3, 28) and campaign.start_at == at("2027-03-28T19:00")  # 21:00 CEST


# -- creation: the same service, once -------------------------------------------------------------


def test_a_night_is_created_through_the_campaign_service_as_its_promoter_with_opted_in_members_only(
        db, promoter, factories):
    now = at("2027-05-03T08:00")  # a Monday
    day = date(2027, 5, 7)
    ws = promoter.workspace_id
    ins = [factories.player(ws, f"in{i}@example.com", "available", day=day) for i in range(2)]
    factories.player(ws, "out@example.com", "available", day=day, opted_in=False)
    factories.player(ws, "maybe@example.com", "maybe", day=day)
    schedule = weekly(promoter, now, weekdays=["fri"], start_time="20:30", lead_minutes=30)
    night = nights(schedule)[day]
    assert schedules.run_night(night.id, now=night.create_at + timedelta(minutes=1)) == "created"
    campaign = db.session.get(Campaign, db.session.get(ScheduledNight, night.id).campaign_id)
    assert sorted(r.user_id for r in campaign.recipients) == sorted(ins)
    assert campaign.lead_minutes == 30 and campaign.statuses == ["available", "looking"]
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["campaign.created", "schedule.night_created"]


def _created_night_with_two_members(db, promoter, factories, sink, **fields) -> tuple[ScheduledNight, Campaign]:
    """A Friday night of a schedule, created: members `a` and `b` at the sink, available that day."""
    day = date(2027, 5, 7)
    for who in "ab":
        factories.player(promoter.workspace_id, f"{who}@example.com", day=day, target=sink.target(who))
    night = nights(weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"], **fields))[day]
    assert schedules.run_night(night.id, now=night.create_at) == "created"
    db.session.refresh(night)
    return night, db.session.get(Campaign, night.campaign_id)


def _audited(db, action: str) -> list[dict]:
    return list(db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == action)))


def test_a_schedules_min_players_becomes_each_nights_campaigns_quorum_and_warns_the_promoter(
        db, promoter, factories, sink):
    from tests.gamenight.steps import job
    from webapp.extensions import utcnow
    from webapp.gamenight import campaign_runs
    from webapp.notify import contacts
    from webapp.notify.models import Channel, Contact

    own = Contact(workspace_id=promoter.workspace_id, user_id=promoter.user_id, channel=Channel.telegram,
                  external_id="tg-promoter", confirmed_at=utcnow())
    contacts.set_target(own, sink.target("promoter"))
    db.session.add(own)
    db.session.commit()
    night, campaign = _created_night_with_two_members(db, promoter, factories, sink, min_players=3, min_ready=2)
    assert campaign.min_players == 3  # below the quorum yet above the minimum ready: created, then warned
    assert db.session.get(NightSchedule, night.schedule_id).min_players == 3
    reminder = job(campaign, JobKind.reminder)
    campaign_runs.run_job(reminder.id, now=reminder.run_at)
    [warning] = sink.received("promoter")
    assert warning["title"] == "Short of players" and "Only 2 of the 3 players" in warning["message"]
    assert "/gamenight/call-off/" in warning["message"]
    assert _audited(db, "schedule.created")[-1]["min_players"] == 3


def test_a_schedule_without_min_players_makes_campaigns_without_a_quorum(db, promoter):
    night = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"]).nights[0]
    schedules.run_night(night.id, now=night.create_at)
    assert db.session.scalar(select(Campaign.min_players)) is None


def test_the_schema_refuses_a_schedules_min_players_out_of_range(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    for bad in (0, 501):
        db.session.get(NightSchedule, schedule.id).min_players = bad
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_running_a_night_again_or_after_a_crash_creates_no_second_campaign(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    # A first run that crashed after the campaign was committed, before the night was marked.
    campaigns.create(promoter, CampaignChoices(day=night.local_day.isoformat(), start_time="21:00"),
                     idempotency_key=schedules.idempotency_key(night), now=night.create_at)
    assert schedules.run_night(night.id, now=night.create_at) == "created"
    assert schedules.run_night(night.id, now=night.create_at) == "created"
    assert count(db, Campaign) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "schedule.night_created")) == 1


def test_the_schema_holds_one_night_per_schedule_and_local_date(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    first = schedule.nights[0]
    db.session.add(ScheduledNight(schedule_id=schedule.id, workspace_id=schedule.workspace_id, local_day=first.local_day,
                                  start_at=first.start_at, create_at=first.create_at))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_reconciler_pass_adds_no_night_twice_and_rolls_the_horizon_on(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    assert len(schedule.nights) == 2
    assert schedules.reconcile(now=at("2027-05-03T09:00"))["scheduled_nights_added"] == 0
    assert schedules.reconcile(now=at("2027-05-11T09:00"))["scheduled_nights_added"] == 1
    assert count(db, ScheduledNight) == 3


# -- guards ---------------------------------------------------------------------------------------


def test_a_promoter_who_promoted_that_day_by_hand_gets_no_second_campaign(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    by_hand, _ = campaigns.create(promoter, CampaignChoices(day=night.local_day.isoformat(), start_time="19:00"),
                                  now=night.create_at)
    assert schedules.run_night(night.id, now=night.create_at) == "refused"
    db.session.refresh(night)
    assert night.campaign_id == by_hand.id and "already promoted" in night.detail
    assert count(db, Campaign) == 1


def test_a_promoter_who_lost_the_role_gets_no_campaign(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    membership = db.session.scalar(select(Membership).where(Membership.user_id == promoter.user_id))
    membership.role = Role.editor
    db.session.commit()
    assert schedules.run_night(night.id, now=night.create_at) == "refused"
    db.session.refresh(night)
    assert "promoter role" in night.detail and count(db, Campaign) == 0


def test_below_the_minimum_a_night_waits_and_is_created_once_enough_are_ready(db, promoter, factories):
    day = date(2027, 5, 7)
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"], min_ready=2)
    night = nights(schedule)[day]
    factories.player(promoter.workspace_id, "a@example.com", "available", day=day)
    assert schedules.run_night(night.id, now=night.create_at) == "waiting"
    db.session.refresh(night)
    assert night.status is NightStatus.pending and night.detail.startswith("1 of 2 ready")
    assert night.next_run_at == night.create_at + schedules.RECHECK
    factories.player(promoter.workspace_id, "b@example.com", "looking", day=day)
    assert schedules.run_night(night.id, now=night.next_run_at) == "created"


def test_below_the_minimum_at_the_reminder_time_a_night_is_not_promoted(db, promoter, factories):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"], min_ready=3)
    night = schedule.nights[0]
    last_look = night.start_at - timedelta(minutes=20)  # the reminder is at 15 min: no room for another look
    assert schedules.run_night(night.id, now=last_look) == "too_few"
    assert count(db, Campaign) == 0


def test_a_night_whose_window_passed_while_no_worker_ran_is_missed_not_promoted_late(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    assert schedules.run_night(night.id, now=night.start_at - timedelta(minutes=10)) == "missed"
    assert schedules.run_night(night.id, now=night.start_at - timedelta(minutes=10)) == "missed"
    assert count(db, Campaign) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "schedule.night_missed")) == 1


def test_a_night_follows_a_change_of_the_workspaces_zone_before_its_campaign_is_created(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    set_zone(db, promoter, "Asia/Tokyo")
    assert schedules.run_night(night.id, now=at("2027-05-06T12:05")) == "created"  # 24 h before 21:00 JST
    db.session.refresh(night)
    assert night.start_at == at("2027-05-07T12:00") == db.session.get(Campaign, night.campaign_id).start_at


def test_a_run_before_its_time_puts_the_night_back_on_the_schedule(db, promoter, redis):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    assert schedules.run_night(night.id, now=night.create_at - timedelta(hours=1)) == "early"
    assert count(db, Campaign) == 0


# -- skipping, pausing, deleting ------------------------------------------------------------------


def test_a_skipped_night_is_not_created(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    assert schedules.skip(promoter, night.id).status is NightStatus.skipped
    assert schedules.run_night(night.id, now=night.create_at) == "skipped"
    assert count(db, Campaign) == 0
    with pytest.raises(Conflict):
        schedules.skip(promoter, night.id)


def test_skipping_a_created_night_cancels_its_campaign(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    schedules.run_night(night.id, now=night.create_at)
    assert schedules.skip(promoter, night.id).status is NightStatus.skipped
    db.session.refresh(night)
    assert db.session.get(Campaign, night.campaign_id).status is CampaignStatus.cancelled
    with pytest.raises(Conflict):
        schedules.skip(promoter, night.id)


def test_skipping_a_night_before_its_reminder_cancels_it_quietly_and_nobody_is_told(db, promoter, factories, sink):
    from tests.gamenight.steps import job
    from webapp.gamenight import campaign_runs

    night, campaign = _created_night_with_two_members(db, promoter, factories, sink)
    assert schedules.skip(promoter, night.id).status is NightStatus.skipped
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.status is CampaignStatus.cancelled and campaign.called_off_at is None
    assert JobKind.called_off not in {j.kind for j in campaign.jobs}
    reminder = job(campaign, JobKind.reminder)
    assert campaign_runs.run_job(reminder.id, now=reminder.run_at) == "cancelled"  # it fires anyway: nothing
    assert sink.received("a") == [] and sink.received("b") == []
    assert _audited(db, "schedule.night_skipped")[-1]["called_off"] is False
    assert len(_audited(db, "campaign.cancelled")) == 1 and _audited(db, "campaign.called_off") == []


def test_skipping_a_night_after_its_reminder_calls_it_off_and_tells_each_recipient_once(db, promoter, factories,
                                                                                         sink):
    from tests.gamenight.steps import job
    from webapp.gamenight import campaign_runs
    from webapp.gamenight.models import JobStatus

    night, campaign = _created_night_with_two_members(db, promoter, factories, sink)
    reminder = job(campaign, JobKind.reminder)
    assert campaign_runs.run_job(reminder.id, now=reminder.run_at) == "done"
    skipped = schedules.skip(promoter, night.id)
    assert skipped.status is NightStatus.skipped and "called off" in skipped.detail
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.status is CampaignStatus.cancelled and campaign.called_off_at is not None
    assert {j.kind: j.status for j in campaign.jobs} == {
        JobKind.reminder: JobStatus.done, JobKind.start: JobStatus.cancelled, JobKind.ready_check: JobStatus.cancelled,
        JobKind.called_off: JobStatus.scheduled}
    told = job(campaign, JobKind.called_off)
    assert campaign_runs.run_job(told.id) == "done"
    db.session.expire_all()
    told = job(db.session.get(Campaign, campaign.id), JobKind.called_off)
    told.status = JobStatus.running  # RQ delivers it again, as after a crash
    db.session.commit()
    campaign_runs.run_job(told.id)
    for who in "ab":
        assert [p["title"] for p in sink.received(who)] == ["Game night soon", "Game night called off"]
    assert campaign_runs.run_job(job(campaign, JobKind.start).id, now=campaign.start_at) == "cancelled"
    assert _audited(db, "schedule.night_skipped")[-1] == {"date": "2027-05-07", "campaign_id": campaign.id,
                                                          "called_off": True}
    assert len(_audited(db, "campaign.called_off")) == 1 and _audited(db, "campaign.cancelled") == []
    with pytest.raises(Conflict):  # called off: nothing left to skip
        schedules.skip(promoter, night.id)


def test_a_paused_schedule_skips_the_nights_due_meanwhile_and_adds_none(db, promoter):
    now = at("2027-05-03T08:00")
    schedule = weekly(promoter, now, weekdays=["fri"])
    schedules.set_paused(promoter, schedule.id, True)
    night = schedule.nights[0]
    assert schedules.run_night(night.id, now=night.create_at) == "skipped"
    assert schedules.reconcile(now=now + timedelta(days=10))["scheduled_nights_added"] == 0


def test_deleting_a_schedule_keeps_the_campaigns_it_made(db, promoter):
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    night = schedule.nights[0]
    schedules.run_night(night.id, now=night.create_at)
    schedules.delete(promoter, schedule.id)
    assert count(db, NightSchedule) == 0 and count(db, ScheduledNight) == 0 and count(db, Campaign) == 1


def test_an_editor_can_neither_set_nor_skip_a_schedule(db, promoter, factories):
    editor = factories.user("editor", "Acme", email="ed@example.com")
    with pytest.raises(Forbidden):
        weekly(editor, at("2027-05-03T08:00"))
    schedule = weekly(promoter, at("2027-05-03T08:00"), weekdays=["fri"])
    with pytest.raises(Forbidden):
        schedules.skip(editor, schedule.nights[0].id)
    with pytest.raises(Forbidden):
        schedules.delete(editor, schedule.id)


@pytest.mark.parametrize(("fields", "error"), [
    ({"weekdays": []}, Invalid), ({"weekdays": ["caturday"]}, BadRequest), ({"weekdays": [7]}, BadRequest),
    ({"weekdays": "fri", "start_time": "25:00"}, BadRequest), ({"weekdays": ["fri"], "hours_ahead": 0}, BadRequest),
    ({"weekdays": ["fri"], "hours_ahead": 169}, BadRequest), ({"weekdays": ["fri"], "min_ready": 0}, BadRequest),
    ({"weekdays": ["fri"], "min_players": 0}, BadRequest), ({"weekdays": ["fri"], "min_players": 501}, BadRequest),
    ({"weekdays": ["fri"], "min_players": True}, BadRequest),
    ({"weekdays": ["fri"], "statuses": ["not_available"]}, Invalid), ({"weekdays": ["fri"], "every": "day"}, BadRequest),
])
def test_a_schedule_that_does_not_make_sense_is_refused(fields, error):
    from webapp.commands import parse

    with pytest.raises(error):
        parse(ScheduleCommand, fields)


def test_a_campaign_created_after_its_own_reminder_is_refused_when_the_schedule_is_set(db, promoter):
    with pytest.raises(Invalid):
        weekly(promoter, at("2027-05-03T08:00"), hours_ahead=1, lead_minutes=90)
    assert count(db, NightSchedule) == 0


# -- the reconciler and Redis ---------------------------------------------------------------------


def _due_night(db, promoter, redis) -> ScheduledNight:
    """A night due now whose run is on the queue (a schedule made an hour before its creation time)."""
    from webapp.extensions import utcnow

    schedule = weekly(promoter, utcnow() - timedelta(hours=1), weekdays=list(schedules.WEEKDAYS))
    night = min(schedule.nights, key=lambda n: n.create_at)
    night.create_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    return night


def test_a_due_night_whose_run_redis_lost_is_enqueued_once_by_the_reconciler(db, promoter, redis):
    night = _due_night(db, promoter, redis)
    redis.flushdb()
    first = schedules.reconcile()
    assert first["scheduled_nights_due"] >= 1 and first["scheduled_nights_enqueued"] == first["scheduled_nights_due"]
    assert schedules.reconcile()["scheduled_nights_enqueued"] == 0  # it is on the queue now
    db.session.refresh(night)
    from rq.job import Job

    assert Job.fetch(night.rq_job_id, connection=redis).args == (night.id,)  # an id, nothing else


def test_a_run_whose_worker_died_long_ago_is_enqueued_again_a_fresh_one_is_not(db, promoter, redis):
    from rq.job import Job
    from rq.job import JobStatus as RQStatus

    from webapp.extensions import utcnow
    from webapp.notify import delivery

    night = _due_night(db, promoter, redis)
    redis.flushdb()
    schedules.reconcile()
    db.session.refresh(night)
    job = Job.fetch(night.rq_job_id, connection=redis)
    job.set_status(RQStatus.STARTED)
    job.started_at = utcnow() - timedelta(seconds=30)
    job.save()
    assert schedules.reconcile()["scheduled_nights_enqueued"] == 0  # running, recently: leave it
    job.started_at = utcnow() - delivery.lease() - timedelta(seconds=1)
    job.save()
    assert schedules.reconcile()["scheduled_nights_enqueued"] == 1  # SIGKILLed: run it again


def test_a_scheduled_nights_reminder_keeps_quiet_hours_and_reaches_the_others(db, promoter, factories, sink):
    from tests.gamenight.steps import ledger
    from webapp.gamenight import campaign_runs
    from webapp.notify.models import DeliveryStatus

    now = at("2027-05-03T08:00")
    day = date(2027, 5, 7)
    ws = promoter.workspace_id
    sleeper = factories.player(ws, "sleeper@example.com", day=day, target=sink.target("sleeper"),
                               quiet_hours="20:00-23:00")
    awake = factories.player(ws, "awake@example.com", day=day, target=sink.target("awake"))
    night = nights(weekly(promoter, now, weekdays=["fri"]))[day]
    schedules.run_night(night.id, now=night.create_at)
    reminder = next(j for j in db.session.get(Campaign, db.session.get(ScheduledNight, night.id).campaign_id).jobs
                    if j.kind is JobKind.reminder)
    campaign_runs.run_job(reminder.id, now=reminder.run_at)  # 20:45 Ljubljana: the sleeper's quiet hours
    assert ledger(db, user_id=sleeper)[0].status is DeliveryStatus.skipped_quiet_hours
    assert ledger(db, user_id=awake)[0].status is DeliveryStatus.sent
    assert sink.received("sleeper") == [] and len(sink.received("awake")) == 1
