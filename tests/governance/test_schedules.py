"""Scheduled promotions, processes and world areas alike: kept as a row for a local time in the workspace's zone
(DST-correct), never fired early, never twice, never after the deadline, and at fire time applied only if
everything the dialog promised still holds — else stale, with the creator told once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.governance.test_requests import sandbox_version
from webapp.audit.models import AuditEvent
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.extensions import utcnow
from webapp.governance import schedules
from webapp.governance import services as governance
from webapp.governance.models import Decision, PromotionRequest, RequestState, ScheduledPromotion, ScheduleState
from webapp.governance.schedules import ScheduleCommand
from webapp.governance.services import PolicyCommand, RequestCommand
from webapp.notify.models import Delivery
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.processes import promotion
from webapp.processes.documents import current_production
from webapp.worlds import promotion as world_promotion

ZONE = ZoneInfo("Europe/Ljubljana")


def local(at: datetime) -> tuple[date, time]:
    """A UTC instant as the dialog's local date and HH:MM (seconds dropped: the next whole minute)."""
    there = (at + timedelta(minutes=1)).astimezone(ZONE)
    return there.date(), there.time().replace(second=0, microsecond=0)


def later(factories, actor, version, *, minutes=30, **kwargs):
    day, clock = local(utcnow() + timedelta(minutes=minutes))
    token = promotion.promotion_preview(actor, version.id).token
    body = {"flow": "process", "source": version.id, "date": day.isoformat(), "time": f"{clock:%H:%M}",
            "preview_token": token} | kwargs
    return schedules.schedule(actor, ScheduleCommand.model_validate(body))


def spring_forward() -> date:
    """Next year's last Sunday of March: the night Ljubljana's clocks skip 02:00-03:00."""
    last = date(utcnow().year + 1, 3, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def contact(actor, target):
    """A confirmed contact of a promoter (their own promotions' messages go there)."""
    from webapp.extensions import db
    from webapp.notify import contacts
    from webapp.notify.models import Channel, Contact

    row = Contact(workspace_id=actor.workspace_id, user_id=actor.user_id, channel=Channel("discord"),
                  external_id=f"ext-{actor.user_id}", confirmed_at=utcnow())
    contacts.set_target(row, target)
    db.session.add(row)
    db.session.commit()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_scheduling_a_version_identical_to_production_is_409_and_writes_no_schedule(db, team, factories):
    _admin, alice, _bob, _eve = team
    twin = sandbox_version(factories, alice, {"prompt": "v1"})  # the same document as production v2
    with pytest.raises(Conflict) as caught:
        later(factories, alice, twin)
    assert caught.value.code == "identical_to_production"
    assert count(db, ScheduledPromotion) == 0


def test_a_schedule_is_a_row_with_its_run_at_in_utc_and_its_deadline_ten_minutes_later(db, team, factories):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    assert row.state is ScheduleState.scheduled and row.title == "Support bot v3 → production"
    assert row.run_at.tzinfo is not None and row.deadline_at - row.run_at == timedelta(minutes=10)
    assert row.process_id == version.process_id and row.diff_hash and row.seen == current_production(
        version.process_id).id
    assert schedules.rq_job_id(row) == f"scheduled-promotion-{row.id}-r0"


def test_it_never_fires_before_run_at_and_fires_once_at_it(db, team, factories):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    assert schedules.fire(row.id, now=row.run_at - timedelta(seconds=5)) == "early"
    early = db.session.get(ScheduledPromotion, row.id)
    assert early.state is ScheduleState.scheduled and early.runs == 1  # back on RQ under a new job id
    assert current_production(version.process_id).number == 2
    assert schedules.fire(row.id, now=row.run_at) == "done"
    assert schedules.fire(row.id, now=row.run_at + timedelta(seconds=1)) == "done"
    done = db.session.get(ScheduledPromotion, row.id)
    assert done.state is ScheduleState.done and done.finished_at is not None and done.outcome["result"]
    assert current_production(version.process_id).number == 4
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "version.promoted")
                            .order_by(AuditEvent.id.desc()).limit(1))
    assert event.actor_id == alice.user_id and event.actor_label == "scheduler for alice@example.com"


def test_a_run_within_rqs_lead_waits_for_run_at_itself_before_it_applies(db, team, factories, monkeypatch):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    waited = []
    monkeypatch.setattr(schedules, "_sleep", waited.append)
    assert schedules.fire(row.id, now=row.run_at - timedelta(seconds=0.75)) == "done"
    assert waited == [0.75]
    assert db.session.get(ScheduledPromotion, row.id).started_at == row.run_at
    assert current_production(version.process_id).number == 4


def test_two_claims_of_one_schedule_apply_it_once(db, team, factories):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    first = schedules.fire(row.id, now=row.run_at)
    second = schedules.fire(row.id, now=row.run_at)
    assert (first, second) == ("done", "done")
    assert current_production(version.process_id).number == 4  # one promotion, not two


def test_a_worker_that_outlived_its_lease_does_not_apply_after_another_took_the_row_back(db, team, factories,
                                                                                         monkeypatch):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    apply, runs, stalled = schedules._apply, [], []
    after_lease = row.run_at + schedules.RUNNING_LEASE + timedelta(seconds=1)

    def slow_first_worker(schedule_id, claimed_at):
        if not stalled:  # the first worker stalls after its claim; a second one takes the row back meanwhile
            stalled.append(claimed_at)
            runs.append(schedules.fire(schedule_id, now=after_lease))
        return apply(schedule_id, claimed_at)

    monkeypatch.setattr(schedules, "_apply", slow_first_worker)
    assert schedules.fire(row.id, now=row.run_at) == "taken"
    assert runs == ["done"]
    assert current_production(version.process_id).number == 4  # one promotion, by the second worker


def test_a_claim_already_held_by_a_live_worker_is_left_to_it(db, team, factories):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    row.state, row.started_at = ScheduleState.running, row.run_at  # another worker claimed it a moment ago
    db.session.commit()
    assert schedules.fire(row.id, now=row.run_at + timedelta(seconds=5)) == "running elsewhere"
    assert current_production(version.process_id).number == 2


def test_after_its_deadline_it_is_missed_and_never_applied_late(db, team, factories):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    assert schedules.fire(row.id, now=row.deadline_at + timedelta(seconds=1)) == "missed"
    assert db.session.get(ScheduledPromotion, row.id).state is ScheduleState.missed
    assert current_production(version.process_id).number == 2


def test_the_reconciler_marks_missed_what_passed_its_deadline_and_enqueues_what_redis_lost(db, team, factories,
                                                                                            redis):
    _admin, alice, _bob, _eve = team
    lost = later(factories, alice, sandbox_version(factories, alice))
    proc = factories.process(alice, "Triage")
    factories.production(alice, proc, {"prompt": "a"})
    gone = later(factories, alice, factories.version(alice, proc, {"prompt": "b"}))
    redis.flushall()
    counts = schedules.reconcile(now=lost.run_at + timedelta(seconds=2))
    assert counts["schedules_enqueued"] == 2
    assert db.session.get(ScheduledPromotion, lost.id).runs == 1  # a fresh job id
    counts = schedules.reconcile(now=gone.deadline_at + timedelta(minutes=1))
    assert counts["schedules_missed"] == 2
    assert {r.state for r in db.session.scalars(select(ScheduledPromotion))} == {ScheduleState.missed}


def test_a_job_killed_while_it_waited_for_run_at_is_enqueued_again_once_it_is_overdue(db, team, factories, redis):
    from rq.job import JobStatus

    from webapp.extensions import courier

    _admin, alice, _bob, _eve = team
    row = later(factories, alice, sandbox_version(factories, alice))
    job = courier.queue().enqueue(schedules.JOB_FUNCTION, row.id, job_id=schedules.rq_job_id(row))
    job.set_status(JobStatus.STARTED)  # its horse took it in the lead, then was SIGKILLed before the claim
    assert schedules.reconcile(now=row.run_at + timedelta(seconds=1))["schedules_enqueued"] == 0  # may still claim
    assert schedules.reconcile(now=row.run_at + timedelta(seconds=30))["schedules_enqueued"] == 1
    assert db.session.get(ScheduledPromotion, row.id).runs == 1


def test_a_running_schedule_whose_worker_died_fires_again_once(db, team, factories, redis):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    row.state, row.started_at = ScheduleState.running, row.run_at  # claimed, then SIGKILLed: nothing committed
    db.session.commit()
    after_lease = row.run_at + schedules.RUNNING_LEASE + timedelta(seconds=1)
    assert schedules.reconcile(now=after_lease)["schedules_enqueued"] == 1
    assert schedules.fire(row.id, now=after_lease) == "done"
    assert schedules.reconcile(now=after_lease)["schedules_enqueued"] == 0
    assert current_production(version.process_id).number == 4


def test_a_running_schedule_whose_worker_died_after_its_deadline_is_missed_once(db, team, factories, redis):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    row.state, row.started_at = ScheduleState.running, row.run_at
    db.session.commit()
    late = row.deadline_at + timedelta(seconds=1)
    assert schedules.reconcile(now=late)["schedules_missed"] == 1
    assert schedules.reconcile(now=late)["schedules_missed"] == 0
    assert schedules.fire(row.id, now=late) == "missed"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "promotion.schedule_missed")) == 1
    assert current_production(version.process_id).number == 2


def test_a_policy_that_starts_requiring_approval_after_scheduling_makes_it_stale(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    assert schedules.fire(row.id, now=row.run_at) == "stale"
    assert "approval" in db.session.get(ScheduledPromotion, row.id).outcome["reason"]
    assert current_production(version.process_id).number == 2


def test_production_moving_after_scheduling_makes_it_stale_and_the_creator_is_told_once(db, team, factories, sink):
    _admin, alice, bob, _eve = team
    contact(alice, sink.target("alice"))
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    other = factories.version(bob, version.process, {"prompt": "v9"})
    promotion.promote(bob, other.id)  # production moved: nobody saw what the schedule would do now
    assert schedules.fire(row.id, now=row.run_at) == "stale"
    stale = db.session.get(ScheduledPromotion, row.id)
    assert stale.state is ScheduleState.stale and "production" in stale.outcome["reason"]
    assert "modified" in stale.outcome["summary"] or "changed" in stale.outcome["summary"]
    assert current_production(version.process_id).promoted_from_id == other.id
    effect = db.session.scalar(select(OutboxEffect).where(OutboxEffect.kind == schedules.STALE_EFFECT))
    outbox.run_effect(effect.id)
    effect.status = EffectStatus.pending  # run again, as a retry would
    db.session.commit()
    outbox.run_effect(effect.id)
    assert schedules.fire(row.id, now=row.run_at) == "stale"
    keys = db.session.scalars(select(Delivery.key)).all()
    assert keys == [f"schedule:{row.id}:stale"]
    posts = sink.received("alice")
    assert len(posts) == 1 and "was not applied" in posts[0]["message"]


def test_an_archived_process_at_fire_time_fails_with_the_message(db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    from webapp.processes import documents

    documents.archive_process(admin, version.process.slug, "retired")
    assert schedules.fire(row.id, now=row.run_at) == "failed"
    failed = db.session.get(ScheduledPromotion, row.id)
    assert failed.state is ScheduleState.failed and "archived" in failed.outcome["reason"]


def test_a_policy_requiring_approval_refuses_a_schedule_without_an_approved_request_and_writes_nothing(
        db, team, factories):
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    with pytest.raises(Conflict) as caught:
        later(factories, alice, version)
    assert caught.value.code == "approval_required"
    assert count(db, ScheduledPromotion) == 0


def requested(admin, requester, version, **kwargs):
    """A policy of one approval, and `requester`'s request to promote `version`."""
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    token = promotion.promotion_preview(requester, version.id).token
    return governance.request_promotion(requester, RequestCommand(flow="process", source=version.id,
                                                                  preview_token=token, **kwargs))


def schedule_request(actor, request, minutes=30):
    day, clock = local(utcnow() + timedelta(minutes=minutes))
    return schedules.schedule(actor, ScheduleCommand.model_validate(
        {"request_id": request.id, "date": day.isoformat(), "time": f"{clock:%H:%M}"}))


def test_an_approved_request_is_scheduled_bound_to_what_was_reviewed_and_becomes_applied(db, team, factories):
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    request = requested(admin, alice, version, change_notes="reviewed")
    with pytest.raises(Conflict) as caught:  # not approved yet
        schedule_request(alice, request)
    assert caught.value.code == "request_not_approved" and count(db, ScheduledPromotion) == 0
    governance.decide(bob, request.id, Decision.approve)
    row = schedule_request(alice, request)
    assert row.request_id == request.id and row.change_notes == "reviewed"
    assert row.diff_hash == db.session.get(PromotionRequest, request.id).diff_hash
    assert schedules.fire(row.id, now=row.run_at) == "done"
    assert db.session.get(PromotionRequest, request.id).state is RequestState.applied
    assert current_production(version.process_id).change_notes == "reviewed"


def test_a_request_withdrawn_after_scheduling_makes_the_schedule_stale(db, team, factories):
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    request = requested(admin, alice, version)
    governance.decide(bob, request.id, Decision.approve)
    row = schedule_request(alice, request)
    governance.withdraw(alice, request.id)
    assert schedules.fire(row.id, now=row.run_at) == "stale"
    assert current_production(version.process_id).number == 2


def test_one_pending_schedule_per_source_and_the_second_writes_nothing(db, team, factories):
    _admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    first = later(factories, alice, version)
    with pytest.raises(Conflict) as caught:
        later(factories, bob, version, minutes=60)
    assert caught.value.code == "schedule_pending" and caught.value.details["schedule_id"] == first.id
    assert count(db, ScheduledPromotion) == 1


@pytest.mark.parametrize("when", ["past", "nonexistent"])
def test_a_time_in_the_past_or_one_the_clocks_skip_is_a_422_and_writes_nothing(db, team, factories, when):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    day, clock = local(utcnow() - timedelta(hours=1)) if when == "past" else (spring_forward(), time(2, 30))
    with pytest.raises(Invalid):
        schedules.schedule(alice, ScheduleCommand.model_validate(
            {"flow": "process", "source": version.id, "date": day.isoformat(), "time": f"{clock:%H:%M}"}))
    assert count(db, ScheduledPromotion) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "promotion.scheduled")) == 0


def test_local_times_are_dst_correct_and_an_ambiguous_one_is_its_first_occurrence():
    # 2027-03-28 02:30 does not exist in Ljubljana (02:00 → 03:00); 2027-10-31 02:30 happens twice.
    with pytest.raises(Invalid):
        schedules.local_instant(ZONE, date(2027, 3, 28), time(2, 30))
    assert schedules.local_instant(ZONE, date(2027, 10, 31), time(2, 30)) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert schedules.local_instant(ZONE, date(2027, 7, 1), time(21, 0)) == datetime(2027, 7, 1, 19, 0, tzinfo=UTC)
    assert schedules.local_instant(ZONE, date(2027, 1, 1), time(21, 0)) == datetime(2027, 1, 1, 20, 0, tzinfo=UTC)


def test_cancel_by_the_creator_or_a_promoter_only_while_scheduled_and_404_across_workspaces(db, team, factories):
    _admin, alice, bob, eve = team
    stranger = factories.user("admin", "Other", email="stranger@example.com")
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    with pytest.raises(NotFound):
        schedules.cancel(stranger, row.id)
    with pytest.raises(Forbidden):
        schedules.cancel(eve, row.id)
    assert db.session.get(ScheduledPromotion, row.id).state is ScheduleState.scheduled
    assert schedules.cancel(bob, row.id).state is ScheduleState.cancelled
    with pytest.raises(Conflict) as caught:
        schedules.cancel(alice, row.id)
    assert caught.value.code == "schedule_not_scheduled"
    assert schedules.fire(row.id, now=row.run_at) == "cancelled"
    assert current_production(version.process_id).number == 2
    assert [r.id for r in schedules.list_schedules(alice, process_id=version.process_id)] == [row.id]
    assert schedules.list_schedules(stranger) == []


def test_an_editor_cannot_schedule(db, team, factories):
    _admin, alice, _bob, eve = team
    version = sandbox_version(factories, alice)
    with pytest.raises(Forbidden):
        later(factories, eve, version)
    assert count(db, ScheduledPromotion) == 0


def world_schedule(factories, admin, owner):
    """A built project of `owner`'s, scheduled to go live north of a live room in half an hour."""
    project = factories.build_project(owner)
    room = factories.live_room(admin)
    day, clock = local(utcnow() + timedelta(minutes=30))
    token = world_promotion.promotion_preview(owner, project.id, room.id, "north").token
    row = schedules.schedule(owner, ScheduleCommand.model_validate(
        {"flow": "world", "source": [project.id, room.id, "north"], "date": day.isoformat(),
         "time": f"{clock:%H:%M}", "preview_token": token}))
    return project, room, row


def test_a_world_area_is_scheduled_and_goes_stale_when_the_connection_room_changes(db, team, factories):
    admin, alice, _bob, _eve = team
    project, room, row = world_schedule(factories, admin, alice)
    assert row.build_project_id == project.id
    from webapp.worlds import live
    from webapp.worlds.directions import parse_direction

    other = factories.live_room(admin, "annex")
    live.exit_pair(admin.workspace_id, room.id, other.id, parse_direction("east"))
    db.session.commit()
    assert schedules.fire(row.id, now=row.run_at) == "stale"
    assert "exits there now" in db.session.get(ScheduledPromotion, row.id).outcome["summary"]


def test_a_world_area_scheduled_fires_into_the_live_world(db, team, factories):
    admin, alice, _bob, _eve = team
    project, _room, row = world_schedule(factories, admin, alice)
    assert schedules.fire(row.id, now=row.run_at) == "done"
    db.session.refresh(project)
    assert project.status.value == "live"
