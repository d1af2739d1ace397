"""Who is told of a promotion request, and how often: each member who opted in and may review it gets one message
per request through the delivery ledger (key `review:<request>:<member>`), however often the outbox job runs —
twice, again after its worker vanished, or on a second worker. The requester is told only where the policy lets
them approve; a member who did not opt in, and an editor, are never told. Every step of a request is a webhook
event (`promotion.requested|approved|rejected|applied|stale`) that carries the request's id."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from webapp.extensions import db as _db
from webapp.extensions import utcnow
from webapp.governance import services as governance
from webapp.governance.models import Decision
from webapp.governance.services import NOTIFY_EFFECT, PolicyCommand, RequestCommand
from webapp.notify import contacts
from webapp.notify.models import Channel, Contact, Delivery
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.processes import promotion
from webapp.processes.models import Process
from webapp.webhooks import services as webhooks


@pytest.fixture
def team(db, factories, sink):
    """Members of Acme with a contact whose target is the sink's path of their name; all opted in to review
    messages but carol."""
    members = {}
    for name, role in (("admin", "admin"), ("alice", "promoter"), ("bob", "promoter"), ("carol", "promoter"),
                       ("eve", "editor")):
        actor = factories.user(role, "Acme", email=f"{name}@example.com")
        contact = Contact(workspace_id=actor.workspace_id, user_id=actor.user_id, channel=Channel.discord,
                          external_id=f"{name}#1", confirmed_at=utcnow())
        contacts.set_target(contact, sink.target(name))
        db.session.add(contact)
        db.session.commit()
        if name != "carol":
            governance.subscribe(actor, True)
        members[name] = actor
    return members


ONE = PolicyCommand(required_approvals=1)


def request_for(factories, team, name="Support bot", policy=ONE, **command):
    """alice's request to promote v3 of a new process `name`, whose own policy is `policy`."""
    requester = team["alice"]
    proc = factories.process(requester, name)
    factories.production(requester, proc, {"prompt": "v1"})
    version = factories.version(requester, proc, {"prompt": "v2"})
    governance.set_policy(team["admin"], f"process:{proc.id}", policy)
    token = promotion.promotion_preview(requester, version.id).token
    return governance.request_promotion(requester, RequestCommand(flow="process", source=version.id,
                                                                  preview_token=token, **command))


def notify_effects(db) -> list[OutboxEffect]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == NOTIFY_EFFECT)
                                   .order_by(OutboxEffect.id)))


def told(sink, team) -> dict[str, list[str]]:
    """Each member's ledger keys as they arrived at the sink."""
    return {name: [post["key"] for post in sink.received(name)] for name in team}


def run_again(db, effect_id: int) -> None:
    """The effect as a job that runs again after its worker was killed mid-run: pending once more, then run."""
    db.session.execute(update(OutboxEffect).where(OutboxEffect.id == effect_id)
                       .values(status=EffectStatus.pending, done_at=None))
    db.session.commit()
    outbox.run_effect(effect_id)


def test_each_opted_in_reviewer_is_told_exactly_once_however_often_the_job_runs(db, worker, factories, team, sink):
    request = request_for(factories, team)
    [effect] = notify_effects(db)
    worker()
    worker()  # the same job again: its effect is done
    outbox.enqueue_ids([effect.id])  # a duplicate RQ job for it
    worker()
    run_again(db, effect.id)  # the handler itself runs a second time
    run_again(db, effect.id)
    key = f"review:{request.id}:{{}}"
    assert told(sink, team) == {"admin": [key.format(team["admin"].user_id)], "alice": [],
                                "bob": [key.format(team["bob"].user_id)], "carol": [], "eve": []}
    ledger = db.session.scalars(select(Delivery.status).where(Delivery.source_type == governance.REVIEW_SOURCE,
                                                              Delivery.source_id == request.id)).all()
    assert sorted(status.value for status in ledger) == ["sent", "sent"]


def test_a_second_worker_running_the_same_effect_tells_nobody_again(db, app, factories, team, sink):
    """The handler run twice on one effect, as two workers would that both took its job: the ledger's unique
    keys are the first run's, so the second claims none of them and sends nothing."""
    request = request_for(factories, team)
    [effect] = notify_effects(db)
    handle = outbox.HANDLERS[NOTIFY_EFFECT]  # the handler, as each worker calls it
    first = handle(effect)
    second = handle(db.session.get(OutboxEffect, effect.id))
    assert first == {"sent": 2} and second == {}
    assert sum(len(keys) for keys in told(sink, team).values()) == 2
    assert {k for keys in told(sink, team).values() for k in keys} == {
        f"review:{request.id}:{team['admin'].user_id}", f"review:{request.id}:{team['bob'].user_id}"}


def test_two_workers_running_the_job_at_the_same_moment_tell_each_reviewer_once(db, app, factories, team, sink):
    """PostgreSQL, two threads with a session each, released together on one effect: the ledger's unique key
    (claimed and committed before the send) lets exactly one of them send each message."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (SQLite serialises every writer)")
    request = request_for(factories, team)
    [effect] = notify_effects(db)
    handle, start, answers = outbox.HANDLERS[NOTIFY_EFFECT], threading.Barrier(2), []

    def work() -> None:
        with app.app_context():
            row = _db.session.get(OutboxEffect, effect.id)
            start.wait(timeout=10)
            answers.append(handle(row))
            _db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 2 and sum(a.get("sent", 0) for a in answers) == 2, answers
    assert told(sink, team) == {"admin": [f"review:{request.id}:{team['admin'].user_id}"], "alice": [],
                                "bob": [f"review:{request.id}:{team['bob'].user_id}"], "carol": [], "eve": []}


def test_every_request_is_told_once_to_each_reviewer(db, worker, factories, team, sink):
    one = request_for(factories, team, "Support bot")
    two = request_for(factories, team, "Triage")
    worker()
    for effect in notify_effects(db):
        run_again(db, effect.id)
    assert sorted(told(sink, team)["bob"]) == sorted(
        [f"review:{one.id}:{team['bob'].user_id}", f"review:{two.id}:{team['bob'].user_id}"])


def test_the_requester_is_told_only_where_the_policy_lets_them_approve(db, worker, factories, team, sink):
    request = request_for(factories, team, policy=PolicyCommand(required_approvals=1, requester_may_approve=True))
    worker()
    assert told(sink, team)["alice"] == [f"review:{request.id}:{team['alice'].user_id}"]
    assert told(sink, team)["carol"] == [] and told(sink, team)["eve"] == []


def test_where_admins_approve_only_opted_in_admins_are_told(db, worker, factories, team, sink):
    request = request_for(factories, team, policy=PolicyCommand(required_approvals=1, approver_role="admin"))
    worker()
    assert {name: keys for name, keys in told(sink, team).items() if keys} == {
        "admin": [f"review:{request.id}:{team['admin'].user_id}"]}


def test_a_member_who_opts_out_before_the_job_runs_is_not_told(db, worker, factories, team, sink):
    request_for(factories, team)
    governance.subscribe(team["bob"], False)
    worker()
    assert told(sink, team)["bob"] == [] and len(told(sink, team)["admin"]) == 1


def test_a_request_no_longer_open_when_the_job_runs_tells_nobody(db, worker, factories, team, sink):
    request = request_for(factories, team)
    governance.withdraw(team["alice"], request.id)
    worker()
    assert sum(len(keys) for keys in told(sink, team).values()) == 0


# -- webhook events ------------------------------------------------------------------------------------------------


def events(db) -> list[tuple[str, int | None]]:
    """(event, data.request_id) of every webhook delivery effect, in order."""
    _db.session.expire_all()
    return [(e.payload["event"], e.payload["data"].get("request_id")) for e in db.session.scalars(
        select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver").order_by(OutboxEffect.id))
        if e.payload["event"].startswith("promotion.")]


def test_each_step_of_a_request_emits_its_webhook_event_with_the_request_id(db, worker, factories, team, sink):
    admin, alice, bob = team["admin"], team["alice"], team["bob"]
    webhooks.create_endpoint(admin, f"http://127.0.0.1:{sink.port}/hooks", "CI", ["promotion.*"])
    applied = request_for(factories, team, "Support bot")
    governance.decide(bob, applied.id, Decision.approve, "ok")
    governance.apply(alice, applied.id)
    rejected = request_for(factories, team, "Triage")
    governance.decide(bob, rejected.id, Decision.reject, "no")
    stale = request_for(factories, team, "Greeter")
    hotfix = factories.version(admin, db.session.get(Process, stale.process_id), {"prompt": "fix"})
    promotion.promote(admin, hotfix.id, override_reason="outage")  # production moves: an applied override
    with pytest.raises(governance.RequestStale):
        governance.decide(bob, stale.id, Decision.approve)
    override = governance.for_links(admin.workspace_id, process_id=stale.process_id)[0]  # the override's row
    assert events(db) == [
        ("promotion.requested", applied.id), ("promotion.approved", applied.id), ("promotion.applied", applied.id),
        ("promotion.requested", rejected.id), ("promotion.rejected", rejected.id),
        ("promotion.requested", stale.id), ("promotion.applied", override.id), ("promotion.stale", stale.id)]
    worker()  # and they arrive, signed, at the endpoint
    arrived = [(post["event"], post["data"]["request_id"]) for post in sink.received("hooks")]
    assert sorted(arrived) == sorted(events(db))
