"""Two-way reminders: a recipient answers "in", "late N" or "can't" through the bot API or the reminder's link.
"can't" withdraws their remaining pings in the ledger once and nothing is re-sent; "late N" moves their
ready-check nudge; the campaign page shows the answers; bad answers are a clear 4xx that writes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.gamenight.steps import job, ledger, run, soon
from webapp.audit.models import AuditEvent
from webapp.gamenight import campaign_runs, campaigns, night_settings
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import (
    Availability,
    CampaignAnswer,
    CampaignStatus,
    JobKind,
    JobStatus,
    Status,
)
from webapp.notify.models import DeliveryStatus
from webapp.sealing import seal

ANSWERS = "/api/v1/campaigns/answers"


@pytest.fixture
def night(db, promoter, factories, sink, client):
    """Three members reached at the sink (`a`, `b`, `c`), a summary channel, a campaign starting soon and the
    workspace's bot headers."""
    ws = promoter.workspace_id
    night_settings.settings_row(ws).summary_target_sealed = seal(sink.target("summary"))
    db.session.commit()
    users = {name: factories.player(ws, f"{name}@example.com", target=sink.target(name), name=name.upper(),
                                    external_id=f"d-{name}") for name in "abc"}
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    admin = factories.user("admin", "Acme", email="boss@example.com")
    bot = {"Authorization": f"Bearer {night_settings.rotate_bot_token(admin)}"}

    class Night:
        pass

    found = Night()
    found.users, found.campaign, found.bot, found.ws = users, campaign, bot, ws
    return found


def say(client, night, who: str, words: str, **extra):
    return client.post(ANSWERS, headers=night.bot, json={"channel": "discord", "external_id": f"d-{who}",
                                                          "answer": words, **extra})


def answered(db, action: str = "campaign.answered") -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_cant_from_the_bot_withdraws_the_start_call_and_the_nudge_once_and_nothing_is_re_sent(db, client, night,
                                                                                               sink):
    campaign, a = night.campaign, night.users["a"]
    assert run(db, campaign, JobKind.reminder) == "done"
    first = say(client, night, "a", "can't")
    assert first.status_code == 200, first.get_json()
    [out] = first.get_json()["answers"]
    assert out == {"campaign_id": campaign.id, "answer": "cant", "late_minutes": None, "changed": True,
                   "withdrawn": 2, "nudge_at": None}  # the start call and the nudge; the reminder went out before
    again = say(client, night, "a", "cant").get_json()["answers"][0]
    assert again["changed"] is False and again["withdrawn"] == 0

    assert db.session.scalar(select(Availability.status).where(Availability.user_id == a)) is Status.not_available
    rows = {row.key: row.status for row in ledger(db, user_id=a)}
    assert rows == {f"campaign:{campaign.id}:reminder:{a}": DeliveryStatus.sent,
                    f"campaign:{campaign.id}:start:{a}": DeliveryStatus.withdrawn,
                    f"campaign:{campaign.id}:ready_check:{a}": DeliveryStatus.withdrawn}

    assert run(db, campaign, JobKind.start) == "done"
    job(campaign, JobKind.start).status = JobStatus.running  # as if RQ delivered the job a second time
    db.session.commit()
    run(db, campaign, JobKind.start)
    assert run(db, campaign, JobKind.ready_check) == "done"
    assert [p["key"] for p in sink.received("a")] == [f"campaign:{campaign.id}:reminder:{a}"]
    for other in "bc":  # the others got their start call once, and a nudge (not in voice)
        assert [p["title"] for p in sink.received(other)] == ["Game night soon", "Game night is starting",
                                                             "Are you coming?"]
    assert job(campaign, JobKind.start).counts == {"sent": 2, "withdrawn": 1}
    assert answered(db) == 1
    summary = sink.received("summary")[0]["message"]
    assert "Can't come: A." in summary and "0 of 2 expected players" in summary


def test_the_reminder_carries_the_members_own_answer_link_and_the_page_answers_late_then_in(db, client, auth, night,
                                                                                             sink):
    campaign, b = night.campaign, night.users["b"]
    run(db, campaign, JobKind.reminder)
    message = sink.received("b")[0]["message"]
    assert "Answer in, late 15 or can't" in message
    link = re.search(r"https?://\S+/gamenight/answer/(\S+)", message)
    assert link, message
    url = f"/gamenight/answer/{link.group(1)}"
    page = client.get(url + "?answer=late+20")
    assert page.status_code == 200 and "I'll be late" in page.get_data(as_text=True)
    assert 'value="20"' in page.get_data(as_text=True)  # the words in the link fill the form

    late = auth.post(url, data={"answer": "late", "late_minutes": "20"})
    assert late.status_code == 200 and "20 minutes later" in late.get_data(as_text=True)
    row = db.session.get(CampaignAnswer, (campaign.id, b))
    assert (row.answer.value, row.late_minutes, row.source) == ("late", 20, "web")
    back = auth.post(url, data={"answer": "in"})
    assert back.status_code == 200 and "see you there" in back.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(CampaignAnswer, (campaign.id, b)).late_minutes is None
    assert client.get("/gamenight/answer/not-a-token").status_code == 404


def test_late_moves_only_that_members_nudge_and_the_summary_says_so(db, client, night, sink):
    campaign, a = night.campaign, night.users["a"]
    out = say(client, night, "a", "late 15").get_json()["answers"][0]
    check = job(campaign, JobKind.ready_check)
    assert out["nudge_at"] == (check.run_at + timedelta(minutes=15)).isoformat()
    assert check.deadline_at >= check.run_at + timedelta(minutes=15)

    assert run(db, campaign, JobKind.ready_check) == "late"  # b and c nudged now, a later
    assert sink.received("a") == [] and len(sink.received("b")) == len(sink.received("c")) == 1
    summary = sink.received("summary")[0]["message"]
    assert "Coming late: A (15 min)." in summary
    check = job(campaign, JobKind.ready_check)
    assert check.status is JobStatus.scheduled and check.next_run_at == check.run_at + timedelta(minutes=15)
    assert campaign_runs.run_job(check.id, now=check.run_at + timedelta(minutes=5)) == "late"  # a reconciler's run
    assert sink.received("a") == []

    assert campaign_runs.run_job(check.id, now=check.run_at + timedelta(minutes=15)) == "done"
    assert [p["key"] for p in sink.received("a")] == [f"campaign:{campaign.id}:ready_check:{a}"]
    db.session.expire_all()
    assert campaign_runs.run_job(check.id, now=check.run_at + timedelta(minutes=20)) == "done"
    assert len(sink.received("a")) == 1 and len(sink.received("summary")) == 1  # once each


def test_late_after_the_ready_check_ran_moves_its_next_run_sooner(db, client, night, sink):
    campaign = night.campaign
    say(client, night, "a", "late 30")
    assert run(db, campaign, JobKind.ready_check) == "late"
    check = job(campaign, JobKind.ready_check)
    assert check.next_run_at == check.run_at + timedelta(minutes=30)
    # b was nudged already; c answers late 10 — it was nudged too, so its nudge is not sent again either
    say(client, night, "c", "late 10")
    db.session.expire_all()
    check = job(campaign, JobKind.ready_check)
    assert check.next_run_at == check.run_at + timedelta(minutes=10)
    assert campaign_runs.run_job(check.id, now=check.run_at + timedelta(minutes=10)) == "late"
    assert len(sink.received("c")) == 1


def test_the_campaign_page_and_api_show_the_answers(db, client, night, auth, promoter):
    say(client, night, "a", "in")
    say(client, night, "b", "late 5")
    say(client, night, "c", "can't")
    auth.login("promoter@example.com")
    page = auth.client.get(f"/campaigns/{night.campaign.id}", headers={"HX-Request": "true"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 in" in text and "1 late" in text and "1 can&#39;t" in text
    assert "<strong>B</strong>: late 5 min" in text
    body = campaigns.as_json(campaigns.get(promoter, night.campaign.id))
    assert body["answers"] == {"in": 1, "late": 1, "cant": 1}


@pytest.mark.parametrize(("words", "status", "field"), [
    ("maybe", 400, "answer"), ("late 0", 422, "answer"), ("late 121", 422, "answer"), ("late", 422, "late_minutes"),
    (15, 400, "answer"), ("in in", 400, "answer")])
def test_bad_answers_are_a_clear_4xx_that_writes_nothing(db, client, night, words, status, field):
    answer = say(client, night, "a", words)
    assert answer.status_code == status, answer.get_json()
    assert field in answer.get_json()["details"]
    assert db.session.scalar(select(func.count()).select_from(CampaignAnswer)) == 0 and answered(db) == 0


def test_who_and_which_night_a_bot_answer_is_for(db, client, night, promoter):
    assert say(client, night, "nobody", "in").status_code == 404  # an identity nobody linked
    assert client.post(ANSWERS, json={"channel": "discord", "external_id": "d-a", "answer": "in"},
                       headers={"Authorization": "Bearer pdb_wrong"}).status_code == 401
    assert say(client, night, "a", "in", campaign_id=night.campaign.id + 99).get_json()["error"] == "no_campaign"
    assert say(client, night, "a", "can't").status_code == 200
    refused = say(client, night, "a", "in")
    assert refused.status_code == 409 and refused.get_json()["error"] == "already_withdrawn"
    campaigns.cancel(promoter, night.campaign.id)
    closed = say(client, night, "b", "in", campaign_id=night.campaign.id)
    assert closed.status_code == 409 and closed.get_json()["error"] == "campaign_closed"
    assert say(client, night, "b", "in").get_json()["error"] == "no_campaign"  # no running night left
    assert db.session.get_one(type(night.campaign), night.campaign.id).status is CampaignStatus.cancelled


def test_a_withdrawn_retry_is_never_sent_again(db, client, night, sink):
    campaign, a = night.campaign, night.users["a"]
    sink.failing.add("a")  # the start call to a fails provably and waits for its retry
    assert run(db, campaign, JobKind.start) == "retrying"
    assert ledger(db, user_id=a)[0].status is DeliveryStatus.retrying
    # the reminder not sent yet, the start call's retry and the nudge
    assert say(client, night, "a", "cant").get_json()["answers"][0]["withdrawn"] == 3
    sink.failing.clear()
    check = job(campaign, JobKind.start)
    assert campaign_runs.run_job(check.id, now=check.run_at + timedelta(minutes=1)) == "done"
    assert sink.received("a") == []
    assert {r.key.split(":")[2]: r.status for r in ledger(db, user_id=a)} == {
        "reminder": DeliveryStatus.withdrawn, "start": DeliveryStatus.withdrawn, "ready_check": DeliveryStatus.withdrawn}


def test_in_from_a_maybe_makes_them_expected_at_the_ready_check_and_late_after_it_moves_nothing(
        db, client, night, sink, factories, promoter):
    campaigns.cancel(promoter, night.campaign.id)
    maybe = factories.player(night.ws, "m@example.com", "maybe", target=sink.target("m"), name="M", external_id="d-m")
    campaign, _ = campaigns.create(promoter, CampaignChoices(statuses=["available", "maybe"], **soon(25)))
    assert say(client, night, "m", "in").status_code == 200
    assert db.session.scalar(select(Availability.status).where(Availability.user_id == maybe)) is Status.available
    assert run(db, campaign, JobKind.ready_check) == "done"
    assert [p["title"] for p in sink.received("m")] == ["Are you coming?"]  # expected now, and not in voice
    late = say(client, night, "m", "late 10").get_json()["answers"][0]
    assert late["nudge_at"] is None and late["changed"] is True  # the ready-check is over: nothing moves
    assert len(sink.received("m")) == 1


def test_a_ready_check_run_a_little_early_nudges_everyone_due_and_keeps_the_late_one_for_later(db, client, night,
                                                                                               sink):
    say(client, night, "a", "late 1")
    check = job(night.campaign, JobKind.ready_check)
    early = check.run_at - timedelta(seconds=20)  # RQ may start a run up to `campaign_runs.EARLY` before its time
    assert campaign_runs.run_job(check.id, now=early) == "late"
    assert len(sink.received("b")) == len(sink.received("c")) == 1 and sink.received("a") == []
    assert campaign_runs.run_job(check.id, now=check.run_at + timedelta(seconds=59)) == "done"  # RQ's second early
    assert len(sink.received("a")) == 1


def test_an_answer_link_stops_working_once_its_member_left_the_workspace(db, client, night, sink):
    from webapp.accounts.models import Membership

    run(db, night.campaign, JobKind.reminder)
    token = re.search(r"/gamenight/answer/(\S+)", sink.received("b")[0]["message"]).group(1)
    assert client.get(f"/gamenight/answer/{token}").status_code == 200
    db.session.execute(Membership.__table__.delete().where(Membership.user_id == night.users["b"]))
    db.session.commit()
    gone = client.get(f"/gamenight/answer/{token}")
    assert gone.status_code == 404 and "not valid any more" in gone.get_data(as_text=True)


def test_an_answer_without_a_campaign_goes_to_each_nights_campaign_that_takes_it(db, client, night, factories):
    other = factories.user("promoter", "Acme", email="second@example.com")
    second, _ = campaigns.create(other, CampaignChoices(**soon()))
    assert say(client, night, "b", "can't", campaign_id=night.campaign.id).status_code == 200
    both = say(client, night, "b", "in")  # the first campaign refuses "in" after "can't"; the second takes it
    assert both.status_code == 200 and [a["campaign_id"] for a in both.get_json()["answers"]] == [second.id]
    assert db.session.get(CampaignAnswer, (night.campaign.id, night.users["b"])).answer.value == "cant"
    refused = say(client, night, "b", "in", campaign_id=night.campaign.id)
    assert refused.status_code == 409 and refused.get_json()["error"] == "already_withdrawn"
