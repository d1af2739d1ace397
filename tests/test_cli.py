"""The `flask --app wsgi …` commands deployments and scripts rely on, via the CLI runner."""

from __future__ import annotations

from sqlalchemy import select

from webapp.accounts.models import Membership, User, Workspace
from webapp.cli import DEMO_EMAIL, DEMO_PASSWORD
from webapp.outbox import services as outbox


def invoke(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_create_user_creates_the_workspace_and_the_membership(app, db):
    result = invoke(app, "create-user", "--email", "Ada@Example.com", "--password", "long-enough",
                    "--workspace", "Acme Labs", "--role", "promoter")
    assert result.exit_code == 0, result.output
    assert "ada@example.com" in result.output
    user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
    ws = db.session.scalar(select(Workspace).where(Workspace.slug == "acme-labs"))
    assert ws is not None and ws.name == "Acme Labs"
    [membership] = db.session.scalars(select(Membership).where(Membership.user_id == user.id)).all()
    assert membership.workspace_id == ws.id and membership.role.name == "promoter"


def test_create_user_again_in_another_workspace_adds_a_membership_to_the_same_user(app, db):
    assert invoke(app, "create-user", "--email", "ada@example.com", "--password", "long-enough",
                  "--workspace", "Acme", "--role", "admin").exit_code == 0
    result = invoke(app, "create-user", "--email", "ada@example.com", "--password", "long-enough",
                    "--workspace", "Globex", "--role", "viewer")
    assert result.exit_code == 0, result.output
    assert len(db.session.scalars(select(User)).all()) == 1
    roles = {m.workspace.slug: m.role.name for m in db.session.scalars(select(Membership))}
    assert roles == {"acme": "admin", "globex": "viewer"}


def test_create_user_with_a_bad_email_or_short_password_fails_clearly_and_writes_nothing(app, db):
    bad = invoke(app, "create-user", "--email", "not-an-email", "--password", "long-enough", "--workspace", "Acme")
    assert bad.exit_code != 0 and "e-mail" in bad.output
    short = invoke(app, "create-user", "--email", "a@example.com", "--password", "short", "--workspace", "Acme")
    assert short.exit_code != 0 and "8 characters" in short.output
    assert db.session.scalars(select(User)).all() == []


def test_create_token_prints_only_a_token_that_works_on_the_management_api(app, factories):
    factories.user("editor", workspace="Acme", email="ed@example.com")
    factories.process(factories.user("admin", workspace="Acme"), "Triage")
    result = invoke(app, "create-token", "--email", "ed@example.com", "--workspace", "acme")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert result.output == token + "\n" and " " not in token
    response = app.test_client().get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and [p["slug"] for p in response.get_json()] == ["triage"]


def test_create_token_for_a_non_member_fails(app, factories):
    factories.user("admin", workspace="Acme", email="ada@example.com")
    factories.user("admin", workspace="Globex")
    result = invoke(app, "create-token", "--email", "ada@example.com", "--workspace", "globex")
    assert result.exit_code != 0 and "pdp_" not in result.output


def test_create_key_prints_only_a_key_that_works_on_serve(app, factories):
    admin = factories.user("admin", workspace="Acme")
    factories.production(admin, factories.process(admin, "Triage"), {"prompt": "live"})
    result = invoke(app, "create-key", "--workspace", "acme", "--environment", "production")
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert result.output == key + "\n" and " " not in key
    response = app.test_client().get("/api/v1/serve/triage", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.get_json()["config"] == {"prompt": "live"}


def test_create_key_for_an_unknown_workspace_fails(app):
    result = invoke(app, "create-key", "--workspace", "nowhere", "--environment", "sandbox")
    assert result.exit_code != 0 and "nowhere" in result.output


def test_seed_demo_prints_the_login_and_is_idempotent_and_every_seeded_person_signs_in_with_it(app, db, auth):
    first = invoke(app, "seed-demo")
    assert first.exit_code == 0, first.output
    assert DEMO_EMAIL in first.output and DEMO_PASSWORD in first.output
    counts = {model: len(db.session.scalars(select(model)).all()) for model in (User, Workspace, Membership)}
    second = invoke(app, "seed-demo")
    assert second.exit_code == 0 and DEMO_EMAIL in second.output and DEMO_PASSWORD in second.output
    assert "already" in second.output
    db.session.expire_all()
    assert {model: len(db.session.scalars(select(model)).all()) for model in counts} == counts
    for email in (DEMO_EMAIL, "promoter@example.com", "eva@example.com"):  # one hash, shared by all nine
        assert auth.login(email, DEMO_PASSWORD).status_code in (302, 303), email
        auth.logout()
    assert auth.login("eva@example.com", "not-the-password").status_code == 401
    users = db.session.scalars(select(User)).all()
    assert len(users) == 9 and len({u.password_hash for u in users}) == 1


def test_reconcile_prints_its_counts(app, db, factories, monkeypatch):
    actor = factories.user("admin")
    version = factories.version(actor, factories.process(actor))
    from webapp.extensions import courier

    monkeypatch.setattr(outbox, "enqueue_ids", lambda ids, at=None: 0)  # Redis "lost" the job
    from webapp.processes import promotion

    promotion.promote(actor, version.id)
    monkeypatch.undo()
    courier.queue().empty()
    result = invoke(app, "reconcile")
    assert result.exit_code == 0, result.output
    # The outbox's own counts first; the flows' reconcilers follow in the order their modules were imported.
    parts = result.output.strip().removeprefix("reconcile: ").split(", ")
    assert parts[:3] == ["revived=0", "due=1", "enqueued=1"]
    assert sorted(parts[3:]) == sorted([
        "campaign_jobs_due=0", "campaign_jobs_enqueued=0", "discord_threads_lost=0", "scheduled_nights_added=0",
        "scheduled_nights_due=0", "scheduled_nights_enqueued=0", "propagation_written=0", "schedules_due=0",
        "schedules_enqueued=0", "schedules_missed=0"])


def test_seed_demo_builds_a_small_live_world_and_a_mill_ready_to_promote(app, db):
    from webapp.accounts import services as accounts
    from webapp.worlds import promotion, queries

    assert invoke(app, "seed-demo").exit_code == 0
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    actor = accounts.actor_for_user(user, accounts.memberships(user.id)[0].workspace_id)
    live = {r.key: r for r in queries.live_rooms(actor)}
    assert {"limbo", "square", "tavern", "forest", "tower"} == set(live)
    assert [v.exit.key for v in queries.exits_of(live["limbo"])] == ["north"]
    [mill] = queries.list_projects(actor)
    assert mill.status.value == "built" and len(mill.rooms) == 3
    preview = promotion.promotion_preview(actor, mill.id, live["square"].id, "northeast")
    assert preview.conflicts == [] and preview.room_count == 3


def test_seed_demo_has_players_ready_for_a_game_night(app, db):
    from webapp.accounts import services as accounts
    from webapp.gamenight import campaign_plans
    from webapp.gamenight.campaign_plans import CampaignChoices

    assert invoke(app, "seed-demo").exit_code == 0
    promoter = db.session.scalar(select(User).where(User.email == "promoter@example.com"))
    actor = accounts.actor_for_user(promoter, accounts.memberships(promoter.id)[0].workspace_id)
    plan = campaign_plans.plan(actor, CampaignChoices(day="tomorrow"))
    assert len(plan.recipients) == 2  # Ana (available) and Eva (available); Dana did not opt in
    assert campaign_plans.plan(actor, CampaignChoices(day="tomorrow", statuses=["available", "maybe", "looking"])).channels == {"discord": 3}


# -- operators ------------------------------------------------------------------------------------


def _is_operator(db, email: str) -> bool:
    db.session.expire_all()
    return db.session.scalar(select(User.is_operator).where(User.email == email))


def test_create_user_with_operator_makes_an_operator_who_opens_the_rq_dashboard(app, db, auth):
    result = invoke(app, "create-user", "--email", "ops@example.com", "--password", "long-enough",
                    "--workspace", "Acme", "--role", "viewer", "--operator")
    assert result.exit_code == 0, result.output
    assert "an operator" in result.output and _is_operator(db, "ops@example.com")
    auth.login("ops@example.com", "long-enough")
    assert auth.get("/rq/").status_code == 200


def test_create_user_without_the_operator_flag_leaves_the_operator_role_as_it_is(app, db):
    invoke(app, "create-user", "--email", "ops@example.com", "--password", "long-enough", "--workspace", "Acme",
           "--operator")
    invoke(app, "create-user", "--email", "ops@example.com", "--password", "long-enough", "--workspace", "Globex")
    assert _is_operator(db, "ops@example.com")
    invoke(app, "create-user", "--email", "ops@example.com", "--password", "long-enough", "--workspace", "Globex",
           "--no-operator")
    assert not _is_operator(db, "ops@example.com")


def test_set_operator_grants_and_revokes_for_an_existing_user_and_is_audited(app, db, factories):
    member = factories.user("admin")
    granted = invoke(app, "set-operator", "--email", member.label)
    assert granted.exit_code == 0, granted.output
    assert _is_operator(db, member.label)
    revoked = invoke(app, "set-operator", "--email", member.label, "--revoke")
    assert revoked.exit_code == 0 and "no longer" in revoked.output
    assert not _is_operator(db, member.label)
    from webapp.audit.models import AuditEvent

    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("operator.%"))
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["operator.granted", "operator.revoked"]


def test_set_operator_for_an_unknown_user_fails_clearly(app):
    result = invoke(app, "set-operator", "--email", "nobody@example.com")
    assert result.exit_code != 0 and "No user" in result.output


def test_seed_demo_makes_the_demo_admin_an_operator_and_only_them(app, db):
    assert invoke(app, "seed-demo").exit_code == 0
    operators = db.session.scalars(select(User.email).where(User.is_operator)).all()
    assert operators == [DEMO_EMAIL]
