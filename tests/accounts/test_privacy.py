"""The profile page's "Download my data" and "Delete my account": the export holds the member's own data
and nobody else's, deletion removes their rows and keeps shared history under a pseudonym, and both act
on the signed-in member only."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import String, cast, func, or_, select
from werkzeug.security import generate_password_hash

from tests.factories import PASSWORD
from webapp.accounts import privacy
from webapp.accounts import services as accounts
from webapp.accounts.models import ApiToken, LoginFailure, Membership, Role, User
from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.extensions import db as _db
from webapp.extensions import utcnow
from webapp.gamenight import night_settings, players
from webapp.gamenight.models import (
    Answer,
    Availability,
    Campaign,
    CampaignAnswer,
    CampaignJob,
    CampaignRecipient,
    JobKind,
    LinkCode,
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    PlayerProfile,
    Status,
    SuggestionVote,
    TeamSuggestion,
)
from webapp.notify.models import Contact, Delivery, DeliveryStatus, Preference

OTHER_ID = 777777  # an id no timestamp or counter in the export can spell by chance (see `mentions`)
JANA_TARGET = "json://relay.example/hook/jana-4821"
MIHA_TARGET = "json://relay.example/hook/miha-5555"


def mentions(text: str, number: int) -> bool:
    """`number` appears in `text` as a number of its own (not inside a longer one or a fraction)."""
    return re.search(rf"(?<![\d.]){number}(?!\d)", text) is not None


def count(model, *where) -> int:
    return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def user_references() -> list:
    """Every column of the schema that points at `users.id`."""
    return [fk.parent for table in _db.metadata.sorted_tables for fk in table.foreign_keys
            if fk.column.table.name == "users"]


@pytest.fixture
def acme(factories, auth):
    """Acme: an admin (boss), Jana and Miha, both linked, with profiles, contacts, preferences and
    availability; a planning room with both on one team, suggestions and votes by both; a campaign both
    received (with ledger rows) and one Jana promoted; Jana's personal token, a failed sign-in, a page
    click on availability and a saved player. Globex: Eve, who is no member of Acme."""
    boss = factories.user("admin", "Acme", email="boss@example.com")
    ws = night_settings.workspace(boss.workspace_id)
    today = night_settings.local_today(ws)
    _db.session.add(User(id=OTHER_ID, email="miha@example.com", password_hash=generate_password_hash(PASSWORD)))
    _db.session.commit()
    jana = factories.player(ws.id, "jana@example.com", name="Jana Novak", external_id="jana-discord-1111",
                            target=JANA_TARGET, quiet_hours="23:00-08:00")
    miha = factories.player(ws.id, "miha@example.com", name="Miha Secret", external_id="miha-discord-9999",
                            target=MIHA_TARGET)
    assert miha == OTHER_ID
    globex_admin = factories.user("admin", "Globex", email="gadmin@example.com")
    eve = factories.player(globex_admin.workspace_id, "eve@example.com", name="Eve Elsewhere",
                           external_id="eve-telegram-3333", channel="telegram")

    room = PlanningRoom(workspace_id=ws.id, day=today, created_by_id=jana)
    _db.session.add(room)
    _db.session.flush()
    team = PlanningTeam(room_id=room.id, position=0, name="Red Foxes")
    foxes = TeamSuggestion(room_id=room.id, name="Red Foxes", name_key="red foxes", created_by_id=jana)
    owls = TeamSuggestion(room_id=room.id, name="Blue Owls", name_key="blue owls", created_by_id=miha)
    _db.session.add_all([team, foxes, owls])
    _db.session.flush()
    _db.session.add_all([PlanningMember(room_id=room.id, user_id=jana, team_id=team.id),
                         PlanningMember(room_id=room.id, user_id=miha, team_id=team.id),
                         SuggestionVote(suggestion_id=owls.id, user_id=jana),
                         SuggestionVote(suggestion_id=foxes.id, user_id=miha),
                         SuggestionVote(suggestion_id=owls.id, user_id=miha)])
    audit.record(boss, "planning.teams_saved", "planning_room", room.id,
                 {"day": today.isoformat(), "teams": [{"name": "Red Foxes", "players": [
                     {"user_id": jana, "name": "Jana Novak"}, {"user_id": miha, "name": "Miha Secret"}]}],
                  "bench": []})
    audit.record(None, "contact.linked", "contact", None, {"channel": "discord", "user_id": jana},
                 workspace_id=ws.id, actor_label="bot")
    audit.record(None, "contact.linked", "contact", None, {"channel": "discord", "user_id": miha},
                 workspace_id=ws.id, actor_label="bot")

    start = utcnow() + timedelta(hours=2)
    received = Campaign(workspace_id=ws.id, promoter_id=boss.user_id, local_day=today, start_at=start,
                        lead_minutes=15, statuses=["available"])
    promoted = Campaign(workspace_id=ws.id, promoter_id=jana, local_day=today + timedelta(days=1),
                        start_at=start + timedelta(days=1), lead_minutes=15, statuses=["available"])
    _db.session.add_all([received, promoted])
    _db.session.flush()
    job = CampaignJob(campaign_id=received.id, kind=JobKind.reminder, run_at=start - timedelta(minutes=15),
                      deadline_at=start)
    _db.session.add_all([job, CampaignRecipient(campaign_id=received.id, user_id=jana, status=Status.available),
                         CampaignRecipient(campaign_id=received.id, user_id=miha, status=Status.available),
                         CampaignAnswer(campaign_id=received.id, user_id=jana, answer=Answer.late, late_minutes=15,
                                        source="web"),
                         CampaignAnswer(campaign_id=received.id, user_id=miha, answer=Answer.coming, source="web")])
    _db.session.flush()
    for uid in (jana, miha):
        _db.session.add(Delivery(workspace_id=ws.id, key=f"campaign:{received.id}:reminder:{uid}",
                                 source_type="campaign_job", source_id=job.id, user_id=uid,
                                 status=DeliveryStatus.sent, channel="discord", attempts=1, finished_at=utcnow()))
    _db.session.commit()
    jana_actor = accounts.actor_for_user(_db.session.get(User, jana), ws.id)
    token = accounts.create_personal_token(jana_actor, "my script")[1]
    players.new_link_code(jana_actor)

    auth.login("jana@example.com", "wrong password")  # a failed sign-in: audit row and login_failures row
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana Novak", "aliases": "jn#1"})
    auth.post(f"/w/{ws.slug}/availability", data={"day": (today + timedelta(days=2)).isoformat(),
                                                  "status": "maybe"})  # recorded under her e-mail
    auth.logout()

    class Acme:
        pass

    acme = Acme()
    acme.ws, acme.boss, acme.jana, acme.miha, acme.eve, acme.token = ws, boss, jana, miha, eve, token
    acme.room, acme.foxes, acme.owls, acme.received, acme.promoted = room, foxes, owls, received, promoted
    return acme


def export_as(auth, email: str):
    auth.login(email)
    response = auth.get("/profile/export")
    assert response.status_code == 200
    return response, response.get_data(as_text=True)


def delete_account(auth, email: str, typed: str | None = None):
    """Sign in as `email` and post the delete form, typing `typed` (the e-mail itself by default)."""
    auth.login(email)
    answer = auth.post("/profile/delete", data={"confirm_email": email if typed is None else typed})
    if answer.status_code == 303:
        auth._csrf = None  # the session was cleared with the account
    return answer


def snapshot() -> dict[str, int]:
    """Row counts of every table a deletion touches."""
    models = (User, Membership, PlayerProfile, Contact, Preference, Availability, LinkCode, PlanningMember,
              SuggestionVote, TeamSuggestion, CampaignRecipient, CampaignAnswer, Campaign, Delivery, ApiToken, AuditEvent,
              LoginFailure)
    return {m.__tablename__: count(m) for m in models}


# -- download my data ---------------------------------------------------------------------------


def test_the_export_is_a_json_attachment_with_the_members_own_data(auth, acme):
    response, text = export_as(auth, "jana@example.com")
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=promotion-desk-")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(text)
    assert data["format"] == "promotion-desk/member-data" and data["format_version"] == 1 and data["exported_at"]
    assert data["account"]["email"] == "jana@example.com"
    [acme_data] = data["workspaces"]
    assert (acme_data["name"], acme_data["role"]) == ("Acme", "viewer")
    assert acme_data["player_profile"]["display_name"] == "Jana Novak" and acme_data["player_profile"]["aliases"] == ["jn#1"]
    [contact] = acme_data["contacts"]
    assert contact["external_id"] == "jana-discord-1111" and contact["target"] == "json://…4821"
    assert contact["confirmed_at"]
    assert acme_data["preferences"]["opted_in"] is True and acme_data["preferences"]["quiet_hours"] == "23:00-08:00"
    assert sorted(a["status"] for a in acme_data["availability"]) == ["available", "maybe"]
    assert len(acme_data["link_codes"]) == 1
    assert acme_data["planning_rooms"] == [{"day": acme.room.day.isoformat(), "joined_at": acme_data["planning_rooms"][0]["joined_at"],
                                            "team": "Red Foxes"}]
    assert [s["name"] for s in acme_data["team_name_suggestions"]] == ["Red Foxes"]
    assert [v["suggestion"] for v in acme_data["votes"]] == ["Blue Owls"]
    assert [c["campaign_id"] for c in acme_data["campaigns_promoted"]] == [acme.promoted.id]
    assert acme_data["campaigns_received"] == [{"campaign_id": acme.received.id, "day": acme.received.local_day.isoformat(),
                                                "status_when_promoted": "available"}]
    [answer] = acme_data["campaign_answers"]  # hers, not Miha's
    assert (answer["campaign_id"], answer["answer"], answer["late_minutes"]) == (acme.received.id, "late", 15)
    [delivery] = acme_data["deliveries"]
    assert (delivery["kind"], delivery["status"], delivery["channel"], delivery["attempts"]) == \
        ("reminder", "sent", "discord", 1)
    [token] = acme_data["api_tokens"]
    assert token["name"] == "my script" and acme.token.startswith(token["prefix"])
    actions = {e["action"] for e in acme_data["audit_events"]}
    assert {"token.created", "player.saved", "availability.set", "auth.login_failed"} <= actions
    assert "planning.teams_saved" not in actions  # the admin's, not hers


def test_the_export_names_no_other_member(auth, acme):
    _, text = export_as(auth, "jana@example.com")
    for other in ("miha@example.com", "Miha Secret", "miha-discord-9999", "boss@example.com", "Eve Elsewhere",
                  "eve@example.com", "eve-telegram-3333", "Globex"):
        assert other not in text, other
    assert not mentions(text, acme.miha)
    data = json.loads(text)
    room = data["workspaces"][0]["planning_rooms"][0]
    assert set(room) == {"day", "joined_at", "team"}  # the team's name, never its players
    assert all("details" not in e for e in data["workspaces"][0]["audit_events"])


def test_the_export_holds_no_secret(auth, acme, db):
    _, text = export_as(auth, "jana@example.com")
    contact = db.session.scalar(select(Contact).where(Contact.user_id == acme.jana))
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == acme.jana))
    user = db.session.get(User, acme.jana)
    code = db.session.scalar(select(LinkCode).where(LinkCode.user_id == acme.jana))
    for secret in ("relay.example", contact.target_sealed, token.token_hash, acme.token, user.password_hash,
                   code.code_hash, "correct-horse"):
        assert secret not in text


def test_a_member_of_another_workspace_exports_only_their_own_data(auth, acme):
    _, text = export_as(auth, "eve@example.com")
    data = json.loads(text)
    assert [w["name"] for w in data["workspaces"]] == ["Globex"]
    assert data["workspaces"][0]["contacts"][0]["external_id"] == "eve-telegram-3333"
    for other in ("Acme", "jana", "Jana Novak", "miha", "Miha Secret", "Red Foxes", "Blue Owls", "boss@example.com"):
        assert other not in text, other
    assert not mentions(text, acme.miha)


def test_export_and_delete_need_a_sign_in(client, auth, acme):
    assert client.get("/profile/export").status_code == 302
    answer = auth.post("/profile/delete", data={"confirm_email": "jana@example.com"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert count(User, User.id == acme.jana) == 1


# -- delete my account --------------------------------------------------------------------------


def test_deleting_removes_the_members_rows_and_signs_them_out(auth, client, acme, db):
    answer = delete_account(auth, "jana@example.com", "  Jana@Example.com ")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/login")
    assert "Your account was deleted." in client.get("/login").get_data(as_text=True)
    assert client.get("/profile").status_code == 302  # signed out
    uid = acme.jana
    assert db.session.get(User, uid) is None
    for model in (Contact, Preference, Availability, LinkCode, PlayerProfile, PlanningMember, SuggestionVote,
                  CampaignRecipient, ApiToken, Membership):
        assert count(model, model.user_id == uid) == 0, model.__tablename__
    assert count(LoginFailure, LoginFailure.email == "jana@example.com") == 0
    for column in user_references():  # nothing left pointing at the account (SQLite enforces no foreign key)
        assert count(column.table, column == uid) == 0, str(column)


def test_deletion_keeps_shared_history_under_a_pseudonym(auth, client, acme, db):
    delete_account(auth, "jana@example.com")
    label = privacy.pseudonym(acme.jana)
    assert re.fullmatch(r"deleted-member-[0-9a-f]{8}", label)
    db.session.expire_all()
    assert db.session.get(TeamSuggestion, acme.foxes.id).created_by_id is None
    assert db.session.get(PlanningRoom, acme.room.id).created_by_id is None
    assert db.session.get(Campaign, acme.promoted.id).promoter_id is None
    assert count(Delivery) == 2 and count(Delivery, Delivery.user_id.is_(None)) == 1
    everything = " ".join(f"{e.actor_label} {e.resource_id} {json.dumps(e.details)} {e.ip}"
                          for e in db.session.scalars(select(AuditEvent)))
    assert "jana@example.com" not in everything and "Jana Novak" not in everything
    assert count(AuditEvent, AuditEvent.actor_id == acme.jana) == 0
    assert count(AuditEvent, AuditEvent.resource_type == "user", AuditEvent.resource_id == str(acme.jana)) == 0
    hers = db.session.scalars(select(AuditEvent).where(AuditEvent.actor_label == label)).all()
    assert {"token.created", "player.saved", "availability.set", "auth.login_failed", "account.deleted"} <= \
        {e.action for e in hers}
    assert all(e.ip is None for e in hers)
    linked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.linked")).all()
    assert sorted(str(e.details["user_id"]) for e in linked) == sorted([label, str(acme.miha)])
    saved = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "planning.teams_saved"))
    assert saved.details["teams"][0]["players"] == [{"user_id": label, "name": label},
                                                    {"user_id": acme.miha, "name": "Miha Secret"}]
    assert saved.actor_label == "boss@example.com"
    [deleted] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.deleted")).all()
    assert (deleted.workspace_id, deleted.resource_id, deleted.actor_id) == (acme.ws.id, label, None)
    auth.login("boss@example.com")
    assert "deleted member" in auth.get(f"/campaigns/{acme.promoted.id}").get_data(as_text=True)
    assert "deleted member" in auth.get("/campaigns").get_data(as_text=True)


def test_deletion_leaves_the_other_members_data_untouched(auth, acme, db):
    before = {m.__tablename__: count(m, m.user_id == acme.miha)
              for m in (Contact, Preference, Availability, PlayerProfile, PlanningMember, SuggestionVote,
                        CampaignRecipient, Membership, Delivery)}
    miha_audit = [(e.id, e.actor_label, json.dumps(e.details)) for e in db.session.scalars(
        select(AuditEvent).where(or_(AuditEvent.actor_id == acme.miha,
                                     cast(AuditEvent.details, String).contains(str(acme.miha))),
                                 AuditEvent.action != "planning.teams_saved"))]  # a shared row: checked above
    delete_account(auth, "jana@example.com")
    db.session.expire_all()
    assert before == {m.__tablename__: count(m, m.user_id == acme.miha)
                      for m in (Contact, Preference, Availability, PlayerProfile, PlanningMember, SuggestionVote,
                                CampaignRecipient, Membership, Delivery)}
    assert miha_audit and miha_audit == [(e.id, e.actor_label, json.dumps(e.details)) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.id.in_([i for i, _, _ in miha_audit])))]
    assert count(SuggestionVote, SuggestionVote.suggestion_id == acme.owls.id) == 1  # Miha's; Jana's went
    assert db.session.get(User, acme.miha) is not None and count(User, User.email == "eve@example.com") == 1


def test_a_wrong_confirmation_email_is_a_400_and_deletes_nothing(auth, acme):
    before = snapshot()
    auth.login("jana@example.com")
    for typed in ("miha@example.com", "", "jana@example"):
        answer = auth.post("/profile/delete", data={"confirm_email": typed})
        assert answer.status_code == 400
        assert "Type your e-mail address exactly" in answer.get_data(as_text=True)
    assert snapshot() == before
    assert auth.get("/profile").status_code == 200  # still signed in


def test_the_last_admin_of_a_workspace_with_other_members_is_a_409_until_they_hand_over(auth, acme, db):
    before = snapshot()
    auth.login("boss@example.com")
    answer = auth.post("/profile/delete", data={"confirm_email": "boss@example.com"})
    assert answer.status_code == 409 and "only admin of Acme" in answer.get_data(as_text=True)
    assert snapshot() == before
    membership = db.session.scalar(select(Membership).where(Membership.user_id == acme.jana))
    membership.role = Role.admin
    db.session.commit()
    assert delete_account(auth, "boss@example.com").status_code == 303
    assert count(User, User.email == "boss@example.com") == 0


def test_the_only_member_of_a_workspace_may_delete_their_account(auth, factories):
    factories.user("admin", "Solo", email="solo@example.com")
    assert delete_account(auth, "solo@example.com").status_code == 303
    assert count(User) == 0 and count(Membership) == 0


def test_a_delete_without_the_csrf_token_is_a_400_and_deletes_nothing(client, auth, acme):
    before = snapshot()
    auth.login("jana@example.com")
    answer = client.post("/profile/delete", data={"confirm_email": "jana@example.com"})
    assert answer.status_code == 400 and "csrf" in answer.get_data(as_text=True).lower()
    assert snapshot() == before


def test_delete_acts_on_the_signed_in_member_only(auth, acme):
    """No id in the URL: a member of another workspace who types someone else's address gets a 400."""
    before = snapshot()
    auth.login("eve@example.com")
    answer = auth.post("/profile/delete", data={"confirm_email": "jana@example.com", "user_id": str(acme.jana)})
    assert answer.status_code == 400 and snapshot() == before


def test_the_profile_page_offers_the_download_and_the_delete_form(auth, acme):
    auth.login("jana@example.com")
    page = auth.get("/profile").get_data(as_text=True)
    card = page.split('id="your-data"', 1)[1]
    assert 'href="/profile/export"' in card and 'action="/profile/delete"' in card
    assert 'name="confirm_email"' in card and 'name="csrf_token"' in card and 'class="danger"' in card


def test_every_reference_to_a_user_is_either_removed_or_kept_without_it(app):
    """A new table pointing at users must be named as removed or kept (the platform's, or in a flow's hook)."""
    named = {(c.class_.__table__.name, c.key) for c in privacy.removed_columns() + privacy.kept_columns()}
    assert {(c.table.name, c.name) for c in user_references()} == named


def test_the_pseudonym_is_stable_and_differs_per_member(app):
    assert privacy.pseudonym(12) == privacy.pseudonym(12) != privacy.pseudonym(13)
    assert re.fullmatch(r"deleted-member-[0-9a-f]{8}", privacy.pseudonym(12))


def test_a_deleted_accounts_session_does_not_sign_in_whoever_gets_its_id_next(app, client, auth, factories):
    """SQLite hands the highest deleted id to the next new user: the session names the creation time too."""
    from webapp.accounts import privacy
    from webapp.accounts.models import User

    factories.user("admin", "Acme", email="boss@example.com")
    gone = factories.user("viewer", "Acme", email="gone@example.com")
    auth.login("gone@example.com")
    assert client.get("/profile").status_code == 200
    privacy.delete_account(gone.user_id, "gone@example.com")
    newcomer = factories.user("viewer", "Acme", email="newcomer@example.com")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert newcomer.user_id == gone.user_id  # the reuse this guards against
    answer = client.get("/profile")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert User.query.filter_by(email="newcomer@example.com").one().get_id().startswith(f"{newcomer.user_id}:")


def test_deletion_goes_by_id_so_a_namesake_keeps_their_name_in_the_audit_log(auth, acme, db):
    """Two members may share a player name; only the deleted one's entries become the pseudonym."""
    from webapp.audit import services as audit

    audit.record(None, "planning.teams_saved", "planning_room", 1,
                 {"teams": [{"name": "A", "players": [{"user_id": acme.miha, "name": "Jana Novak"}]}]},
                 workspace_id=acme.ws.id, actor_label="bot (discord)")
    db.session.commit()
    delete_account(auth, "jana@example.com")
    db.session.expire_all()
    namesake = db.session.scalar(select(AuditEvent).where(AuditEvent.actor_label == "bot (discord)"))
    assert namesake.details["teams"][0]["players"] == [{"user_id": acme.miha, "name": "Jana Novak"}]


def test_a_version_promoted_by_a_deleted_member_still_says_it_was_promoted(app, auth, factories):
    from webapp.accounts import privacy

    admin = factories.user("admin", "Acme", email="boss@example.com")
    promoter = factories.user("promoter", "Acme", email="pro@example.com")
    proc = factories.process(admin, "Greeter")
    live = factories.production(promoter, proc)
    privacy.delete_account(promoter.user_id, "pro@example.com")
    auth.login("boss@example.com")
    for url in (f"/processes/{proc.slug}", f"/versions/{live.id}"):
        page = auth.get(url).get_data(as_text=True)
        assert "promoted" in page and "by a deleted member" in page and "pro@example.com" not in page, url
