"""Races on PostgreSQL: twenty promoters confirm at the same moment. Exactly one wins, nobody gets a
500, and the schema's invariants (one ACTIVE production version, unique numbers) hold."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.races import race, require_postgres
from webapp.accounts.models import Environment
from webapp.processes.models import ProcessVersion, VersionStatus

RACERS = 20


@pytest.fixture
def pg_app(app: Flask, db: Any) -> Flask:
    require_postgres(db)
    return app


def _assert_invariants(db: Any, process_id: int) -> None:
    db.session.expire_all()
    active_production = db.session.scalar(
        select(func.count()).select_from(ProcessVersion).where(
            ProcessVersion.process_id == process_id, ProcessVersion.environment == Environment.production,
            ProcessVersion.status == VersionStatus.active))
    assert active_production == 1
    numbers = list(db.session.scalars(select(ProcessVersion.number).where(ProcessVersion.process_id == process_id)))
    assert len(numbers) == len(set(numbers))


def test_twenty_confirmed_promotions_at_once_give_one_201_and_nineteen_409(pg_app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    versions = [factories.version(actor, proc, {"prompt": f"candidate {i}"}) for i in range(RACERS)]
    token = factories.personal_token(actor)
    client = pg_app.test_client()
    previews = []
    for v in versions:  # every dialog is opened before anyone confirms
        preview = client.get(f"/api/v1/versions/{v.id}/promotion-preview",
                             headers={"Authorization": f"Bearer {token}"})
        assert preview.status_code == 200 and preview.get_json()["current_production"] is None
        previews.append(preview.get_json()["preview_token"])

    results = race(pg_app, [(f"/api/v1/versions/{v.id}/promote", {"preview_token": t})
                             for v, t in zip(versions, previews, strict=True)], token)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: RACERS - 1}, results
    assert all(body["error"] == "production_changed" for status, body in results if status == 409)
    [winner] = [body for status, body in results if status == 201]
    _assert_invariants(db, proc.id)
    live = db.session.scalar(select(ProcessVersion).where(
        ProcessVersion.process_id == proc.id, ProcessVersion.environment == Environment.production))
    assert live.id == winner["promoted_version"]["id"]
    assert live.number == RACERS + 1


def test_twenty_unconfirmed_promotions_at_once_never_500_and_keep_the_invariants(pg_app, db, factories):
    actor = factories.user("promoter")
    proc = factories.process(actor)
    versions = [factories.version(actor, proc, {"prompt": f"candidate {i}"}) for i in range(RACERS)]
    token = factories.personal_token(actor)

    results = race(pg_app, [(f"/api/v1/versions/{v.id}/promote", {}) for v in versions], token)

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, results
    assert statuses[201] >= 1
    _assert_invariants(db, proc.id)
    production = db.session.scalar(select(func.count()).select_from(ProcessVersion).where(
        ProcessVersion.process_id == proc.id, ProcessVersion.environment == Environment.production))
    assert production == statuses[201]  # every 201 wrote exactly one production version, every 409 none


WORLD_RACERS = 8


@pytest.mark.parametrize("confirmed", [True, False], ids=["with-dialog-tokens", "without-tokens"])
def test_promotions_of_several_areas_into_one_room_and_direction_at_once_give_one_200_and_409s(
        pg_app, db, factories, confirmed):
    from webapp.worlds import promotion as worlds
    from webapp.worlds.models import BuildProject, Exit, ExitName, ProjectStatus, Room

    admin = factories.user("admin")
    limbo = factories.live_room(admin)
    projects = [factories.build_project(admin) for _ in range(WORLD_RACERS)]
    token = factories.personal_token(admin)
    bodies = []
    for p in projects:  # every dialog is opened before anyone confirms
        body = {"connection_room_id": limbo.id, "connection_direction": "east"}
        if confirmed:
            body["preview_token"] = worlds.promotion_preview(admin, p.id, limbo.id, "east").token
        bodies.append(body)

    results = race(pg_app, [(f"/api/v1/builds/{p.id}/promote", b) for p, b in zip(projects, bodies, strict=True)],
                    token)

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: WORLD_RACERS - 1}, results
    db.session.expire_all()
    winner = next(p for p, (status, _) in zip(projects, results, strict=True) if status == 200)
    assert db.session.scalar(select(func.count()).select_from(ExitName).where(
        ExitName.source_id == limbo.id, ExitName.name == "east")) == 1
    assert db.session.scalar(select(func.count()).select_from(Exit).where(Exit.source_id == limbo.id)) == 1
    for p in projects:
        project = db.session.get(BuildProject, p.id)
        if p.id == winner.id:
            assert project.status is ProjectStatus.live
        else:  # the losers' sandboxes are untouched and can be promoted elsewhere
            assert project.status is ProjectStatus.built and project.sandbox_id is not None
            assert db.session.scalar(select(func.count()).select_from(Room)
                                     .where(Room.sandbox_id == project.sandbox_id)) == 3


def test_two_campaigns_created_at_once_by_one_promoter_give_one_row_and_one_409(pg_app, db, factories):
    from tests.gamenight.steps import soon
    from webapp.gamenight.models import Campaign, CampaignJob

    promoter = factories.user("promoter", "Acme", email="racer@example.com")
    factories.player(promoter.workspace_id, "p@example.com")
    token = factories.personal_token(promoter)
    when = soon()
    body = {"date": when["day"], "start_time": when["start_time"], "statuses": ["available"]}
    results = race(pg_app, [("/api/v1/campaigns", body)] * 2, token)
    assert sorted(status for status, _ in results) == [201, 409]
    assert next(answer for status, answer in results if status == 409)["error"] == "already_promoted"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert db.session.scalar(select(func.count()).select_from(CampaignJob)) == 3


def test_two_creates_with_one_idempotency_key_at_once_give_the_same_campaign(pg_app, db, factories):
    from tests.gamenight.steps import soon
    from webapp.gamenight.models import Campaign

    promoter = factories.user("promoter", "Acme", email="racer@example.com")
    token = factories.personal_token(promoter)
    when = soon()
    body = {"date": when["day"], "start_time": when["start_time"], "statuses": ["available"]}
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(index: int) -> None:
        client = pg_app.test_client()
        barrier.wait()
        answer = client.post("/api/v1/campaigns", json=body,
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same-key"})
        results[index] = (answer.status_code, answer.get_json().get("id", answer.get_json()))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in results) == [200, 201], results
    assert results[0][1] == results[1][1]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_six_members_opening_the_planning_room_at_once_get_one_room_and_are_all_in_it(pg_app, db, factories):
    from webapp.gamenight import night_settings
    from webapp.gamenight.models import PlanningMember, PlanningRoom, TeamSuggestion

    admin = factories.user("admin", "Acme")
    for i in range(6):
        factories.player(admin.workspace_id, f"p{i}@example.com", "available", external_id=f"p-{i}")
    bot = night_settings.rotate_bot_token(admin)
    results = race(pg_app, [("/api/v1/planning/today/create", {"channel": "discord", "external_id": f"p-{i}"})
                             for i in range(6)], bot)
    assert sorted(status for status, _ in results) == [200] * 5 + [201]
    assert db.session.scalar(select(func.count()).select_from(PlanningRoom)) == 1
    assert db.session.scalar(select(func.count()).select_from(PlanningMember)) == 6

    names = ["Owls", "owls", " OWLS ", "Owls  "] * 3
    results = race(pg_app, [("/api/v1/planning/today/suggestions",
                              {"channel": "discord", "external_id": f"p-{i % 6}", "name": name})
                             for i, name in enumerate(names)], bot)
    assert Counter(status for status, _ in results) == Counter({200: 11, 201: 1})
    assert db.session.scalar(select(func.count()).select_from(TeamSuggestion)) == 1


def test_cant_and_in_from_one_member_at_once_withdraw_once_and_never_500(pg_app, db, factories):
    from tests.gamenight.steps import soon
    from webapp.audit.models import AuditEvent
    from webapp.gamenight import campaigns, night_settings
    from webapp.gamenight.campaign_plans import CampaignChoices
    from webapp.gamenight.models import CampaignAnswer
    from webapp.notify.models import Delivery, DeliveryStatus

    promoter = factories.user("promoter", "Acme", email="racer@example.com")
    admin = factories.user("admin", "Acme", email="boss@example.com")
    member = factories.player(promoter.workspace_id, "p@example.com", external_id="d-racer")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    bot = night_settings.rotate_bot_token(admin)
    calls = [("/api/v1/campaigns/answers", {"channel": "discord", "external_id": "d-racer", "answer": words})
             for words in ["can't"] * 6 + ["in"] * 2]
    results = race(pg_app, calls, bot)
    assert all(status in (200, 409) for status, _ in results), results
    cants = [answer["answers"][0] for (status, answer), (_, body) in zip(results, calls, strict=True)
             if body["answer"] == "can't"]
    assert [a["withdrawn"] for a in cants if a["changed"]] == [3]  # one "can't" withdrew, the others no-ops
    assert all(answer["error"] == "already_withdrawn" for status, answer in results if status == 409)
    db.session.expire_all()
    assert db.session.get(CampaignAnswer, (campaign.id, member)).answer.value == "cant"
    assert db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.user_id == member, Delivery.status == DeliveryStatus.withdrawn)) == 3
    events = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "campaign.answered")).all()
    assert [e["answer"] for e in events].count("cant") == 1
