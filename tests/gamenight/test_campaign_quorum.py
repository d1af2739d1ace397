"""Quorum at the reminder: a campaign with a minimum number of players tells its promoter once, through their own
contact, when fewer are still coming, with a one-tap "Call it off" link; calling it off cancels the start call and
tells every recipient once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.gamenight.steps import body, job, ledger, run, soon
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.gamenight import campaign_runs, campaigns, night_settings
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignStatus, JobKind, JobStatus
from webapp.notify import contacts
from webapp.notify.models import Channel, Contact, DeliveryStatus


@pytest.fixture
def night(db, promoter, factories, sink):
    """Three members `a`, `b`, `c` reached at the sink; the promoter reached at `promoter` (not opted in: the
    warning is about their own night); a bot; a campaign soon that needs 3 players."""
    ws = promoter.workspace_id
    users = {name: factories.player(ws, f"{name}@example.com", target=sink.target(name), name=name.upper(),
                                    external_id=f"d-{name}") for name in "abc"}
    own = Contact(workspace_id=ws, user_id=promoter.user_id, channel=Channel.telegram, external_id="tg-promoter",
                  confirmed_at=utcnow())
    contacts.set_target(own, sink.target("promoter"))
    db.session.add(own)
    db.session.commit()
    admin = factories.user("admin", "Acme", email="boss@example.com")
    bot = {"Authorization": f"Bearer {night_settings.rotate_bot_token(admin)}"}
    campaign, _ = campaigns.create(promoter, CampaignChoices(min_players=3, **soon()))
    return users, campaign, bot


def cant(client, bot, who: str):
    answer = client.post("/api/v1/campaigns/answers", headers=bot,
                         json={"channel": "discord", "external_id": f"d-{who}", "answer": "can't"})
    assert answer.status_code == 200, answer.get_json()


def warning_link(sink) -> str:
    [post] = sink.received("promoter")
    assert post["title"] == "Short of players"
    found = re.search(r"https?://\S+(/gamenight/call-off/\S+)", post["message"])
    assert found, post["message"]
    return found.group(1)


def test_short_of_players_at_the_reminder_the_promoter_is_told_once_and_calling_it_off_tells_everyone_once(
        db, client, auth, night, sink):
    _users, campaign, bot = night
    cant(client, bot, "a")
    assert run(db, campaign, JobKind.reminder) == "done"
    job(campaign, JobKind.reminder).status = JobStatus.running  # RQ delivers the job again
    db.session.commit()
    run(db, campaign, JobKind.reminder)
    link = warning_link(sink)  # once
    assert "Only 2 of the 3 players you need are still coming" in sink.received("promoter")[0]["message"]

    page = client.get(link)  # a link preview or a tap: shows, does nothing
    assert page.status_code == 200 and "Call it off" in page.get_data(as_text=True)
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.sending  # the reminder ran

    done = auth.post(link)
    assert done.status_code == 200 and "Called off" in done.get_data(as_text=True)
    again = auth.post(link)
    assert again.status_code == 200 and "called off already" in again.get_data(as_text=True)
    db.session.expire_all()
    found = db.session.get(Campaign, campaign.id)
    assert found.status is CampaignStatus.cancelled and found.called_off_at is not None
    assert {j.kind: j.status for j in found.jobs} == {
        JobKind.reminder: JobStatus.done, JobKind.start: JobStatus.cancelled, JobKind.ready_check: JobStatus.cancelled,
        JobKind.called_off: JobStatus.scheduled}

    told = job(found, JobKind.called_off)
    assert campaign_runs.run_job(told.id) == "done"
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "campaign.called_off_done")) == {
        "counts": {"sent": 2}}
    db.session.expire_all()
    told = job(db.session.get(Campaign, campaign.id), JobKind.called_off)
    told.status = JobStatus.running  # and once more, as after a crash
    db.session.commit()
    campaign_runs.run_job(told.id)
    assert campaign_runs.run_job(job(found, JobKind.start).id) == "cancelled"
    for who in "bc":
        assert [p["title"] for p in sink.received(who)] == ["Game night soon", "Game night called off"]
    assert [p["title"] for p in sink.received("a")] == []  # said can't before the reminder: nothing at all
    assert len(sink.received("promoter")) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "campaign.called_off")) == 1
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.cancelled  # no roll-up over it
    assert {r.status for r in ledger(db, source_id=told.id)} == {DeliveryStatus.sent}


def test_with_enough_players_still_coming_the_promoter_hears_nothing(db, client, night, sink):
    _users, campaign, _bot = night
    run(db, campaign, JobKind.reminder)
    assert sink.received("promoter") == []
    assert all(len(sink.received(who)) == 1 for who in "abc")


def test_a_campaign_without_a_quorum_never_warns(db, client, night, sink, promoter):
    _users, campaign, bot = night
    campaigns.cancel(promoter, campaign.id)
    quiet, _ = campaigns.create(promoter, CampaignChoices(**soon(25)))
    for who in "abc":
        cant(client, bot, who)
    run(db, quiet, JobKind.reminder)
    assert sink.received("promoter") == []


def test_a_bad_or_foreign_call_off_link_is_404_and_a_quiet_cancel_cannot_be_called_off(db, client, auth, night,
                                                                                        sink, promoter):
    _users, campaign, bot = night
    assert client.get("/gamenight/call-off/forged").status_code == 404
    assert auth.post("/gamenight/call-off/forged").status_code == 404
    cant(client, bot, "a")
    run(db, campaign, JobKind.reminder)
    link = warning_link(sink)
    campaigns.cancel(promoter, campaign.id)
    refused = auth.post(link)
    assert refused.status_code == 409 and "only a scheduled or sending one can be called off" in refused.get_data(as_text=True)
    with pytest.raises(Exception, match="only a scheduled or sending one can be called off"):
        campaigns.call_off(promoter, campaign.id)


def test_the_api_takes_and_shows_min_players_and_refuses_bad_ones(db, client, promoter_and_token, factories):
    actor, token = promoter_and_token
    headers = {"Authorization": f"Bearer {token}"}
    factories.player(actor.workspace_id, "p@example.com")
    preview = client.post("/api/v1/campaigns/preview", headers=headers, json=body(min_players=4))
    assert preview.status_code == 200 and preview.get_json()["min_players"] == 4
    for bad, status in ((0, 400), (501, 400), ("x", 400), (True, 400)):
        refused = client.post("/api/v1/campaigns", headers=headers, json=body(min_players=bad))
        assert refused.status_code == status and "min_players" in refused.get_json()["details"], bad
    created = client.post("/api/v1/campaigns", headers=headers, json=body(min_players=4))
    assert created.status_code == 201
    out = created.get_json()
    assert out["min_players"] == 4 and out["answers"] == {"in": 0, "late": 0, "cant": 0}
    assert out["called_off_at"] is None


def test_the_promote_dialog_carries_min_players_to_the_campaign(db, auth, factories, promoter):
    factories.player(promoter.workspace_id, "p@example.com")
    auth.login("promoter@example.com")
    when = soon()
    query = {"date": when["day"], "start_time": when["start_time"], "statuses": "available", "min_players": "2"}
    dialog = auth.get("/campaigns/preview", htmx=True, query_string=query).get_data(as_text=True)
    assert 'name="min_players" value="2"' in dialog and "Minimum players" in dialog
    key = re.search(r'name="idempotency_key" value="([^"]+)"', dialog).group(1)
    auth.post("/campaigns", data={**query, "idempotency_key": key})
    assert db.session.scalar(select(Campaign.min_players)) == 2


def test_the_campaign_page_calls_it_off_through_the_shared_dialog(db, auth, night, sink, factories):
    _users, campaign, _bot = night
    factories.user("viewer", "Acme", email="viewer@example.com")
    auth.login("viewer@example.com")
    assert auth.get(f"/campaigns/{campaign.id}/call-off", htmx=True).status_code == 403
    assert auth.post(f"/campaigns/{campaign.id}/call-off", htmx=True).status_code == 403
    auth.logout()
    auth.login("promoter@example.com")
    page = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Call it off" in page
    dialog = auth.get(f"/campaigns/{campaign.id}/call-off", htmx=True).get_data(as_text=True)
    assert "Call it off and tell everyone" in dialog and "3 recipients get one message" in dialog
    assert db.session.get(Campaign, campaign.id).called_off_at is None  # the dialog changes nothing
    done = auth.post(f"/campaigns/{campaign.id}/call-off", htmx=True)
    assert done.status_code in (200, 204) and done.headers.get("HX-Redirect") == f"/campaigns/{campaign.id}"
    db.session.expire_all()
    told = job(db.session.get(Campaign, campaign.id), JobKind.called_off)
    campaign_runs.run_job(told.id)
    assert all([p["title"] for p in sink.received(who)] == ["Game night called off"] for who in "abc")
    over = auth.get(f"/campaigns/{campaign.id}/call-off", htmx=True)
    assert over.status_code == 409


def test_a_failed_quorum_warning_is_the_promoters_message_not_a_reminder_that_failed(db, client, auth, night, sink):
    from webapp.gamenight import campaign_report

    _users, campaign, bot = night
    cant(client, bot, "a")
    sink.answers["promoter"] = 500  # the warning's outcome is unknown (never sent again); the reminders went out
    assert run(db, campaign, JobKind.reminder) == "done"
    db.session.expire_all()
    found = db.session.get(Campaign, campaign.id)
    assert campaign_report.outcome_counts(found)[JobKind.reminder.value] == {"sent": 2, "withdrawn": 1}
    for kind in (JobKind.start, JobKind.ready_check):
        job(found, kind).status = JobStatus.cancelled  # the night ends here: the roll-up counts the reminders only
    db.session.commit()
    campaign_runs._roll_up(found)
    assert found.status is CampaignStatus.sent
    assert {line.kind for line in campaign_report.send_log(found)} >= {"Quorum warning", "Reminder"}
    auth.login("promoter@example.com")
    page = auth.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200 and ">Quorum warning</td>" in page.get_data(as_text=True)
