"""Players and linking: a member links a chat account with a one-time code the bot confirms; one identity per
member and channel; the bot API needs the workspace's current bot token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.gamenight.linking import link
from webapp.gamenight import night_settings, players
from webapp.notify.models import Contact


def test_a_member_links_a_chat_account_with_a_one_time_code(auth, chat_bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    answer = link(auth, chat_bot, "jana@example.com", "1111")
    assert answer.status_code == 200
    assert answer.get_json() == {"linked": True, "channel": "discord", "player": "Jana", "has_player_profile": True}
    contact = db.session.scalar(select(Contact))
    assert contact.user_id == member.user_id and contact.confirmed_at is not None
    assert contact.target_hint == "json://…4821" and "relay.example" not in contact.target_sealed
    assert players.is_linked(member.workspace_id, member.user_id)
    page = auth.get("/profile").get_data(as_text=True)
    assert "json://…4821" in page and "relay.example" not in page


def test_a_code_works_once_and_not_after_ten_minutes(auth, chat_bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana"})
    actor = factories.user("viewer", "Acme", email="old@example.com")
    code, expires = players.new_link_code(actor)
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram", "external_id": "7"}).status_code == 200
    again = chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram", "external_id": "7"})
    assert again.status_code == 404 and again.get_json()["error"] == "link_code_invalid"
    code, _ = players.new_link_code(actor)
    from webapp.gamenight.models import LinkCode

    db.session.scalar(select(LinkCode).where(LinkCode.used_at.is_(None))).expires_at = datetime.now(UTC)
    db.session.commit()
    assert chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram",
                                             "external_id": "8"}).status_code == 404


def test_an_identity_linked_to_another_member_is_a_409_and_unlink_lets_it_move(auth, chat_bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    factories.user("viewer", "Acme", email="miha@example.com")
    assert link(auth, chat_bot, "jana@example.com", "1111").status_code == 200
    auth.logout()
    taken = link(auth, chat_bot, "miha@example.com", "1111", name="Miha")
    assert taken.status_code == 409 and taken.get_json()["error"] == "identity_taken"
    assert "already linked to another member" in taken.get_json()["message"]
    auth.logout()
    auth.login("jana@example.com")
    contact = db.session.scalar(select(Contact))
    assert auth.post(f"/profile/contacts/{contact.id}/unlink").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
    auth.logout()
    assert link(auth, chat_bot, "miha@example.com", "1111", name="Miha").status_code == 200


def test_a_second_account_on_the_same_channel_must_replace_the_first_by_unlinking(auth, chat_bot, factories):
    factories.user("viewer", "Acme", email="jana@example.com")
    assert link(auth, chat_bot, "jana@example.com", "1111").status_code == 200
    second = link(auth, chat_bot, "jana@example.com", "2222")
    assert second.status_code == 409 and second.get_json()["error"] == "channel_taken"


@pytest.mark.parametrize(("body", "status"), [
    ({"code": "", "channel": "discord", "external_id": "1"}, 400),
    ({"code": "ABCD", "channel": "irc", "external_id": "1"}, 400),
    ({"code": "ABCD", "channel": "discord", "external_id": ""}, 400),
    ({"code": "ABCD", "channel": "discord", "external_id": "1"}, 404),
])
def test_bad_link_confirmations_are_4xx_and_write_nothing(chat_bot, db, body, status):
    assert chat_bot.post("/api/v1/link/confirm", body).status_code == status
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_target_that_is_not_an_apprise_url_for_the_channel_is_a_400_and_never_echoed(auth, chat_bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    answer = link(auth, chat_bot, "jana@example.com", "1111", target="https://secret.example/abc")
    assert answer.status_code == 400 and "secret.example" not in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_bot_api_needs_the_workspaces_current_bot_token(client, factories):
    admin = factories.user("admin", "Acme")
    old = night_settings.rotate_bot_token(admin)
    new = night_settings.rotate_bot_token(admin)
    body = {"channel": "discord", "external_id": "1", "date": "today", "status": "available"}
    assert client.post("/api/v1/availability", json=body).status_code == 401
    assert client.post("/api/v1/availability", json=body, headers={"Authorization": f"Bearer {old}"}).status_code == 401
    answer = client.post("/api/v1/availability", json=body, headers={"Authorization": f"Bearer {new}"})
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_linked"
    assert "link code" in answer.get_json()["message"]
