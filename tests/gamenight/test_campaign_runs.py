"""Running a campaign: dispatch through the ledger (once each, opt-outs, quiet hours, fallback, retries,
dry runs, cancels, deadlines, crashes, the reconciler) and the ready-check with its summary."""

from __future__ import annotations

import re
import time as clock
from datetime import timedelta

from sqlalchemy import select

from tests.gamenight.steps import LJUBLJANA, due_now, job, ledger, run, run_until_done, soon
from webapp.extensions import utcnow
from webapp.gamenight import campaign_runs, campaigns, night_settings, presence
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignStatus, JobKind, JobStatus
from webapp.notify.models import Delivery, DeliveryStatus, Preference, SendLog

# -- dispatch -------------------------------------------------------------------------------------


def test_the_reminder_reaches_each_recipient_once_even_when_the_job_runs_twice(db, promoter, factories, sink):
    ws = promoter.workspace_id
    users = [factories.player(ws, f"p{i}@example.com", target=sink.target(f"u{i}")) for i in range(3)]
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    assert run(db, campaign, JobKind.reminder) == "done"
    job(campaign, JobKind.reminder).status = JobStatus.running  # as if a second delivery of the RQ job
    db.session.commit()
    run(db, campaign, JobKind.reminder)
    for i in range(3):
        posts = sink.received(f"u{i}")
        assert len(posts) == 1
        assert posts[0]["key"] == f"campaign:{campaign.id}:reminder:{users[i]}"
        assert posts[0]["title"] == "Game night soon" and "We start at " in posts[0]["message"]
    assert {d.status for d in ledger(db)} == {DeliveryStatus.sent}


def test_a_member_who_opts_out_after_scheduling_is_skipped(db, promoter, factories, sink):
    ws = promoter.workspace_id
    leaver = factories.player(ws, "leaver@example.com", target=sink.target("leaver"))
    factories.player(ws, "stayer@example.com", target=sink.target("stayer"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    db.session.get(Preference, (ws, leaver)).opted_in = False
    db.session.commit()
    run(db, campaign, JobKind.reminder)
    assert sink.received("leaver") == [] and len(sink.received("stayer")) == 1
    assert ledger(db, user_id=leaver)[0].status is DeliveryStatus.skipped


def test_quiet_hours_at_send_time_skip_the_member(db, promoter, factories, sink):
    ws = promoter.workspace_id
    local_now = utcnow().astimezone(LJUBLJANA)
    around_now = f"{(local_now - timedelta(hours=1)):%H:%M}-{(local_now + timedelta(hours=2)):%H:%M}"
    sleeper = factories.player(ws, "sleeper@example.com", target=sink.target("sleeper"), quiet_hours=around_now)
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    found = job(campaign, JobKind.reminder)
    campaign_runs.run_job(found.id, now=max(found.run_at, utcnow()))
    assert sink.received("sleeper") == []
    assert ledger(db, user_id=sleeper)[0].status is DeliveryStatus.skipped_quiet_hours


def test_a_failing_channel_falls_back_to_the_next_in_the_members_order(db, promoter, factories, sink):
    from webapp.notify import contacts
    from webapp.notify.models import Channel, Contact

    ws = promoter.workspace_id
    member = factories.player(ws, "two@example.com", target=sink.target("discord-two"))
    telegram = Contact(workspace_id=ws, user_id=member, channel=Channel.telegram, external_id="tg-2",
                       confirmed_at=utcnow())
    contacts.set_target(telegram, sink.target("telegram-two"))
    db.session.add(telegram)
    db.session.get(Preference, (ws, member)).channel_order = ["discord", "telegram"]
    db.session.commit()
    sink.failing.add("discord-two")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    run(db, campaign, JobKind.reminder)
    assert len(sink.received("telegram-two")) == 1
    row = ledger(db, user_id=member)[0]
    assert row.status is DeliveryStatus.sent and row.channel == "telegram"
    logs = db.session.scalars(select(SendLog).where(SendLog.delivery_id == row.id).order_by(SendLog.id)).all()
    assert [(log.status, log.channel) for log in logs] == [("channel_failed", "discord"), ("sent", "telegram")]
    assert all(sink.target("") not in (log.error or "") for log in logs)


def test_retries_exhausted_on_one_channel_make_the_campaign_partial_with_the_right_counts(
        db, promoter, factories, sink, app):
    ws = promoter.workspace_id
    factories.player(ws, "ok1@example.com", target=sink.target("ok1"))
    factories.player(ws, "ok2@example.com", target=sink.target("ok2"))
    broken = factories.player(ws, "broken@example.com", target=sink.target("broken"))
    sink.failing.add("broken")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    reminder = job(campaign, JobKind.reminder)
    assert run(db, campaign, JobKind.reminder) == "retrying"
    assert ledger(db, user_id=broken)[0].status is DeliveryStatus.retrying
    for _ in range(app.config["SETTINGS"].DELIVERY_MAX_ATTEMPTS - 1):
        campaign_runs.run_job(reminder.id, now=reminder.run_at)
        db.session.expire_all()
    row = ledger(db, user_id=broken)[0]
    assert row.status is DeliveryStatus.failed and row.attempts == app.config["SETTINGS"].DELIVERY_MAX_ATTEMPTS
    assert job(campaign, JobKind.reminder).status is JobStatus.done
    assert job(campaign, JobKind.reminder).counts == {"sent": 2, "failed": 1}
    assert len(sink.received("ok1")) == 1 and sink.received("broken") == []
    run_until_done(db, campaign, JobKind.start)
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.sending  # the ready-check is to come
    run_until_done(db, campaign, JobKind.ready_check)
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.partial
    answer = campaigns.as_json(db.session.get(Campaign, campaign.id))
    assert answer["status"] == "partial"
    assert answer["jobs"][0]["counts"] == {"sent": 2, "failed": 1}


def test_a_dry_run_computes_and_logs_but_sends_nothing(db, promoter, factories, sink):
    factories.player(promoter.workspace_id, "dry@example.com", target=sink.target("dry"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(dry_run=True, **soon()))
    for kind in (JobKind.reminder, JobKind.start, JobKind.ready_check):
        run(db, campaign, kind)
    assert sink.count() == 0
    assert {d.status for d in ledger(db)} == {DeliveryStatus.dry_run, DeliveryStatus.skipped}  # summary: no channel
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.sent


def test_a_cancelled_campaign_sends_nothing_more(db, promoter, factories, sink):
    factories.player(promoter.workspace_id, "c@example.com", target=sink.target("c"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    campaigns.cancel(promoter, campaign.id)
    assert run(db, campaign, JobKind.reminder) == "cancelled"
    assert sink.count() == 0
    assert {j.status for j in db.session.get(Campaign, campaign.id).jobs} == {JobStatus.cancelled}


def test_cancelling_while_the_reminder_goes_out_stops_the_fan_out(db, app, promoter, factories, sink):
    paths = [f"r{i}" for i in range(8)]
    for path in paths:
        factories.player(promoter.workspace_id, f"{path}@example.com", target=sink.target(path))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))

    def cancel_at_the_third_post(_path: str, total: int) -> None:
        if total == 3:  # received; the promoter cancels before it is answered
            with app.app_context():
                campaigns.cancel(promoter, campaign.id)
            clock.sleep(1.1)  # past the run's once-a-second look at the campaign

    sink.on_post = cancel_at_the_third_post
    assert run(db, campaign, JobKind.reminder) == "cancelled"
    assert sink.count() == 3  # the three already under way; the other five members get nothing
    assert [d.status for d in ledger(db)].count(DeliveryStatus.sent) == 3
    assert job(db.session.get(Campaign, campaign.id), JobKind.reminder).status is JobStatus.cancelled


def test_a_job_that_fires_after_its_deadline_sends_nothing(db, promoter, factories, sink):
    factories.player(promoter.workspace_id, "late@example.com", target=sink.target("late"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    found = job(campaign, JobKind.reminder)
    assert campaign_runs.run_job(found.id, now=found.deadline_at + timedelta(seconds=1)) == "done"
    assert sink.count() == 0


def test_a_claim_left_by_a_crash_becomes_unknown_and_is_not_sent_again(db, promoter, factories, sink, app):
    member = factories.player(promoter.workspace_id, "crash@example.com", target=sink.target("crash"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    found = job(campaign, JobKind.reminder)
    long_ago = utcnow() - timedelta(seconds=app.config["SETTINGS"].DELIVERY_LEASE_SECONDS + 5)
    db.session.add(Delivery(workspace_id=promoter.workspace_id, key=f"campaign:{campaign.id}:reminder:{member}",
                            source_type="campaign_job", source_id=found.id, user_id=member,
                            status=DeliveryStatus.sending, claimed_at=long_ago))
    db.session.commit()
    assert run(db, campaign, JobKind.reminder) == "done"
    assert sink.count() == 0
    assert ledger(db, user_id=member)[0].status is DeliveryStatus.unknown


def test_redis_flushed_after_scheduling_the_reconciler_still_fires_the_reminder(
        db, promoter, factories, sink, redis, worker):
    factories.player(promoter.workspace_id, "kept@example.com", target=sink.target("kept"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    redis.flushdb()  # Redis kept nothing: the rows are the truth
    reminder = job(campaign, JobKind.reminder)
    counts = campaign_runs.reconcile(now=reminder.run_at + timedelta(seconds=1))
    assert counts == {"campaign_jobs_due": 1, "campaign_jobs_enqueued": 1}
    reminder.run_at = utcnow() - timedelta(seconds=1)  # the reminder's time has come
    db.session.commit()
    worker()
    assert len(sink.received("kept")) == 1
    db.session.expire_all()
    assert job(campaign, JobKind.reminder).status is JobStatus.done


def test_the_reconciler_leaves_alone_jobs_redis_still_holds(db, promoter):
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    counts = campaign_runs.reconcile(now=job(campaign, JobKind.ready_check).run_at + timedelta(seconds=1))
    assert counts == {"campaign_jobs_due": 3, "campaign_jobs_enqueued": 0}


# -- the ready-check --------------------------------------------------------------------------------


def test_cancelling_during_the_ready_check_nudges_posts_no_summary(db, app, promoter, factories, sink):
    ws = promoter.workspace_id
    settings = night_settings.settings_row(ws)
    from webapp.sealing import seal

    settings.summary_target_sealed = seal(sink.target("summary"))
    db.session.commit()
    for name in ("a", "b", "c"):
        factories.player(ws, f"{name}@example.com", target=sink.target(name), name=name.upper())
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    found = due_now(db, job(campaign, JobKind.ready_check))

    def cancel_at_the_first_nudge(_path: str, total: int) -> None:
        if total == 1:
            with app.app_context():
                campaigns.cancel(promoter, campaign.id)
            clock.sleep(1.1)  # past the run's once-a-second look at the campaign

    sink.on_post = cancel_at_the_first_nudge
    campaign_runs.run_job(found.id)
    assert sink.count() == 1  # the nudge under way; no other nudge and no summary
    assert sink.received("summary") == []


def test_ready_check_nudges_only_the_missing_and_sends_a_summary(db, promoter, factories, sink, client):
    ws = promoter.workspace_id
    settings = night_settings.settings_row(ws)
    from webapp.sealing import seal

    settings.summary_target_sealed = seal(sink.target("summary"))
    db.session.commit()
    here = factories.player(ws, "here@example.com", target=sink.target("here"), external_id="d-here", name="Here")
    away = factories.player(ws, "away@example.com", "looking", target=sink.target("away"), external_id="d-away",
                            name="Away")
    local_now = utcnow().astimezone(LJUBLJANA)
    quiet = f"{(local_now - timedelta(hours=1)):%H:%M}-{(local_now + timedelta(hours=2)):%H:%M}"
    factories.player(ws, "sleepy@example.com", target=sink.target("sleepy"), quiet_hours=quiet, name="Sleepy")
    factories.player(ws, "maybe@example.com", "maybe", target=sink.target("maybe"), name="Maybe")
    gamer = factories.player(ws, "gamer@example.com", target=sink.target("gamer"), name="Gamer")
    presence.report(ws, "voice", ["d-here"])
    presence.report(ws, "game_server", ["gamer", "Here"])
    campaign, _ = campaigns.create(promoter, CampaignChoices(statuses=["available", "maybe", "looking"], **soon()))
    found = due_now(db, job(campaign, JobKind.ready_check))
    campaign_runs.run_job(found.id)
    assert sink.received("here") == [] and sink.received("maybe") == []  # present; not expected
    assert len(sink.received("away")) == 1 and len(sink.received("gamer")) == 1
    assert sink.received("sleepy") == []  # quiet hours
    summary = sink.received("summary")
    assert len(summary) == 1
    text = summary[0]["message"]
    assert "1 of 4 expected players joined voice" in text
    assert "Missing: Away, Gamer, Sleepy." in text
    assert "Direct messages sent: 2." in text
    assert "In the game server but not in voice: Gamer." in text
    assert {d.user_id for d in ledger(db, status=DeliveryStatus.sent)} == {away, gamer, None}  # None: the summary
    assert here not in {d.user_id for d in ledger(db)}


def test_without_game_server_telemetry_the_summary_has_no_server_line(db, promoter, factories, sink):
    ws = promoter.workspace_id
    from webapp.sealing import seal

    night_settings.settings_row(ws).summary_target_sealed = seal(sink.target("summary"))
    db.session.commit()
    factories.player(ws, "away@example.com", target=sink.target("away"))
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    found = job(campaign, JobKind.ready_check)
    campaign_runs.run_job(found.id, now=max(found.run_at, utcnow()))
    text = sink.received("summary")[0]["message"]
    assert "game server" not in text and "0 of 1" in text


# -- what the messages say ---------------------------------------------------------------------------


def test_each_message_says_its_piece_once_and_the_nudge_says_how_long_ago_the_game_started(
        db, promoter, factories, sink):
    from webapp.sealing import seal

    ws = promoter.workspace_id
    night_settings.settings_row(ws).summary_target_sealed = seal(sink.target("summary"))
    db.session.commit()
    factories.player(ws, "ana@example.com", target=sink.target("ana"), name="Ana")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    start = campaign.start_at.astimezone(LJUBLJANA).strftime("%H:%M")
    for kind in (JobKind.reminder, JobKind.start, JobKind.ready_check):
        run(db, campaign, kind)  # each at its own time: the ready-check 5 minutes after the start call
    reminder, start_call, nudge = ((p["title"], p["message"]) for p in sink.received("ana"))
    assert reminder[0] == "Game night soon"
    when, answer = reminder[1].splitlines()  # when it starts; where to answer (the member's own signed link)
    assert when == f"We start at {start} (Europe/Ljubljana), in 15 minutes. See you there!"
    assert re.fullmatch(r"Answer in, late 15 or can't \(here or to the bot\): http://\S+/gamenight/answer/\S+", answer)
    assert start_call == ("Game night is starting", f"It is {start}: join the voice channel, we are starting.")
    assert nudge == ("Are you coming?",
                     f"The game started 5 minutes ago ({start}) and we are gathering in voice. Join us when you can.")
    [summary] = sink.received("summary")
    assert summary["title"] == "Ready-check"
    assert summary["message"].splitlines() == ["0 of 1 expected players joined voice since the start call 5 minutes ago.",
                                               "Missing: Ana.", "Direct messages sent: 1."]
    for post in [*sink.received("ana"), summary]:
        assert post["title"].casefold() not in post["message"].casefold()  # the body never repeats its title


def test_the_summary_counts_who_joined_voice_since_the_start_call_even_before_the_presence_window(
        db, promoter, factories, sink):
    from webapp.gamenight.models import PresenceReport

    ws = promoter.workspace_id
    night_settings.settings_row(ws).ready_check_delay = 20  # longer than PRESENCE_WINDOW_MINUTES (5)
    db.session.commit()
    factories.player(ws, "early@example.com", target=sink.target("early"), external_id="d-early")
    factories.player(ws, "late@example.com", target=sink.target("late"), external_id="d-late")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    ready = job(campaign, JobKind.ready_check)
    assert ready.run_at == campaign.start_at + timedelta(minutes=20)
    # In voice 2 minutes after the start call, and not reported since: outside the last 5 minutes at the check.
    db.session.add(PresenceReport(workspace_id=ws, source="voice", present=["d-early"],
                                  seen_at=campaign.start_at + timedelta(minutes=2)))
    db.session.add(PresenceReport(workspace_id=ws, source="voice", present=["d-late"],  # before the start call
                                  seen_at=campaign.start_at - timedelta(minutes=30)))
    db.session.commit()
    run(db, campaign, JobKind.ready_check)
    assert sink.received("early") == []
    [nudge] = sink.received("late")
    assert nudge["message"].startswith("The game started 20 minutes ago")
