"""Availability: the workspace's local today, one-click statuses for linked members, counts for everyone else,
the bots' availability API and the calendar."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.gamenight.linking import link
from webapp.errors import BadRequest
from webapp.gamenight import availability, night_settings
from webapp.gamenight.models import Availability, Status


def test_today_is_the_workspaces_local_date(factories, db):
    from webapp.accounts.models import Workspace

    factories.user("admin", "Acme")
    ws = db.session.scalar(select(Workspace))
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # already the 29th in Ljubljana (UTC+1)
    assert night_settings.local_today(ws, late) == date(2026, 3, 29)
    assert availability.parse_day(ws, "tomorrow", late) == date(2026, 3, 30)
    ws.time_zone = "America/Los_Angeles"
    assert night_settings.local_today(ws, late) == date(2026, 3, 28)
    assert availability.parse_day(ws, "2026-04-01", late) == date(2026, 4, 1)
    with pytest.raises(BadRequest):
        availability.parse_day(ws, "next week", late)


def test_a_linked_member_sets_and_clears_a_status_with_one_click_and_sees_names(auth, chat_bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    link(auth, chat_bot, "jana@example.com", "1111")
    today = night_settings.local_today(night_settings.workspace(member.workspace_id)).isoformat()
    fragment = auth.post("/w/acme/availability", htmx=True, data={"day": today, "status": "looking"})
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'id="availability-panels"' in html
    assert "Jana" in html and 'aria-pressed="true"' in html
    row = db.session.scalar(select(Availability))
    assert (row.user_id, row.day.isoformat(), row.status) == (member.user_id, today, Status.looking)
    auth.post("/w/acme/availability", htmx=True, data={"day": today, "status": "clear"})
    assert db.session.scalar(select(func.count()).select_from(Availability)) == 0


def test_a_big_community_lists_the_first_to_say_so_alphabetically_and_counts_the_rest(
        auth, factories, db, monkeypatch):
    monkeypatch.setattr(availability, "NAMES_SHOWN", 3)
    admin = factories.user("admin", "Acme")
    for name in ("Eva", "Dan", "Ada", "Cid", "Bea"):  # in the order they say so
        factories.player(admin.workspace_id, f"{name.lower()}@example.com", "available", name=name)
    factories.player(admin.workspace_id, "zoe@example.com", "looking", name="Zoe")
    factories.player(admin.workspace_id, "yan@example.com", "looking", name="Yan")
    auth.login("bea@example.com")
    page = auth.get("/w/acme/availability").get_data(as_text=True)
    today = page.split('aria-label="Today"')[1].split("</article>")[0]
    assert "<strong>5</strong> available" in today
    assert '<small class="names">Ada, Dan, Eva and 2 more</small>' in today  # the first three, A to Z
    assert '<small class="names">Yan, Zoe</small>' in today  # all of a short list, A to Z, no "more"
    view = availability.overview(night_settings.workspace(admin.workspace_id), None, member=False)
    assert view.today.counts[Status.available] == 5 and view.today.names == {}  # counts only, no names read


def test_anonymous_and_unlinked_visitors_see_counts_only_with_a_call_to_link(client, auth, chat_bot, factories):
    jana = factories.user("viewer", "Acme", email="jana@example.com")
    link(auth, chat_bot, "jana@example.com", "1111", name="Jana Secretname")
    ws = night_settings.workspace(jana.workspace_id)
    availability.set_status(ws.id, jana.user_id, night_settings.local_today(ws), Status.available, actor_label="test")
    auth.logout()
    anonymous = client.get("/w/acme/availability").get_data(as_text=True)
    assert "Secretname" not in anonymous and "Link your account to set availability" in anonymous
    assert "<strong>1</strong> available" in anonymous and "status-buttons" not in anonymous
    factories.user("viewer", "Acme", email="new@example.com")
    auth.login("new@example.com")
    unlinked = auth.get("/w/acme/availability").get_data(as_text=True)
    assert "Secretname" not in unlinked and "Link your account to set availability" in unlinked
    refused = auth.post("/w/acme/availability", data={"day": "today", "status": "available"})
    assert refused.status_code == 409 and "Link your account" in refused.get_data(as_text=True)


def test_bots_set_and_clear_availability_through_the_same_service(auth, chat_bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    link(auth, chat_bot, "jana@example.com", "1111")
    answer = chat_bot.post("/api/v1/availability", {"channel": "discord", "external_id": "1111", "date": "tomorrow",
                                               "status": "maybe"})
    assert answer.status_code == 200
    tomorrow = night_settings.local_today(night_settings.workspace(member.workspace_id)) + timedelta(days=1)
    assert answer.get_json() == {"date": tomorrow.isoformat(), "status": "maybe"}
    assert db.session.scalar(select(Availability.status)) is Status.maybe
    cleared = chat_bot.post("/api/v1/availability", {"channel": "discord", "external_id": "1111", "date": "tomorrow",
                                                "status": None})
    assert cleared.get_json()["status"] is None
    assert db.session.scalar(select(func.count()).select_from(Availability)) == 0


@pytest.mark.parametrize(("body", "status"), [
    ({"channel": "discord", "external_id": "1111", "date": "yesterday", "status": "maybe"}, 400),
    ({"channel": "discord", "external_id": "1111", "date": "2020-01-01", "status": "maybe"}, 400),
    ({"channel": "discord", "external_id": "1111", "date": "today", "status": "sleepy"}, 400),
    ({"channel": "discord", "external_id": "1111", "date": "today"}, 400),
    ({"channel": "discord", "external_id": "9999", "date": "today", "status": "maybe"}, 404),
])
def test_bad_bot_availability_calls_are_4xx_and_write_nothing(auth, chat_bot, factories, db, body, status):
    factories.user("viewer", "Acme", email="jana@example.com")
    link(auth, chat_bot, "jana@example.com", "1111")
    assert chat_bot.post("/api/v1/availability", body).status_code == status
    assert db.session.scalar(select(func.count()).select_from(Availability)) == 0


def test_no_json_answer_of_the_bot_api_contains_a_delivery_target(auth, chat_bot, factories):
    factories.user("viewer", "Acme", email="jana@example.com")
    answers = [link(auth, chat_bot, "jana@example.com", "1111"),
               chat_bot.post("/api/v1/availability", {"channel": "discord", "external_id": "1111", "status": "looking"})]
    for answer in answers:
        assert "relay.example" not in json.dumps(answer.get_json())


def test_the_calendar_opens_by_htmx_with_counts_per_day(auth, chat_bot, factories):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    link(auth, chat_bot, "jana@example.com", "1111")
    ws = night_settings.workspace(member.workspace_id)
    day = night_settings.local_today(ws) + timedelta(days=2)
    availability.set_status(ws.id, member.user_id, day, Status.available, actor_label="test")
    html = auth.get("/w/acme/availability/calendar", htmx=True,
                    query_string={"month": day.strftime("%Y-%m")}).get_data(as_text=True)
    assert "<html" not in html and "1 ready" in html and "me: available" in html
    assert auth.get("/w/acme/availability/calendar", query_string={"month": "2026-13"}).status_code == 400


def test_another_workspaces_member_cannot_set_status_here(auth, factories):
    factories.user("viewer", "Acme")
    factories.user("viewer", "Globex", email="other@example.com")
    auth.login("other@example.com")
    assert auth.post("/w/acme/availability", data={"day": "today", "status": "available"}).status_code == 404
    assert auth.get("/w/no-such-workspace/availability").status_code == 404
