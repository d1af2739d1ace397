"""Reviews and schedules racing each other and production on PostgreSQL, where row locks decide: two approvers at
once count once each and never approve twice; an approval that applies (or a schedule that fires) while an admin's
hotfix goes to production either applies over exactly the production the requester saw or goes stale — never over
one nobody reviewed; two workers firing one schedule apply it once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.governance.test_requests import ask, sandbox_version
from tests.races import require_postgres
from webapp.errors import DomainError
from webapp.governance import services as governance
from webapp.governance.models import Decision, PromotionRequest, RequestState
from webapp.governance.services import PolicyCommand
from webapp.processes import promotion
from webapp.processes.documents import current_production


def together(app: Flask, *calls: Callable[[], Any]) -> list[Any]:
    """Each call in its own thread and app context (its own session and connection), released by a barrier; what
    each returned or the domain error it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[index] = call()
            except DomainError as exc:
                results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a racer hangs"
    return results


def test_two_approvers_at_once_both_count_and_the_request_approves_once(app, db, team, factories):
    require_postgres(db)
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=2))
    request_id = ask(alice, version).id
    results = together(app, lambda: governance.decide(bob, request_id, Decision.approve).state,
                       lambda: governance.decide(admin, request_id, Decision.approve).state)
    assert sorted(results) == [RequestState.approved, RequestState.open]
    db.session.expire_all()
    row = db.session.get(PromotionRequest, request_id)
    assert row.state is RequestState.approved and len(row.decisions) == 2


def test_with_one_approval_needed_the_second_of_two_simultaneous_approvers_gets_a_409(app, db, team, factories):
    require_postgres(db)
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    request_id = ask(alice, version).id
    results = together(app, lambda: governance.decide(bob, request_id, Decision.approve).state,
                       lambda: governance.decide(admin, request_id, Decision.approve).state)
    assert RequestState.approved in results
    [refused] = [r for r in results if isinstance(r, DomainError)]
    assert refused.status == 409 and refused.code == "request_not_open"
    db.session.expire_all()
    assert len(db.session.get(PromotionRequest, request_id).decisions) == 1


def test_an_approval_racing_a_hotfix_applies_over_what_was_reviewed_or_goes_stale(app, db, team, factories):
    require_postgres(db)
    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    seen = current_production(version.process_id).id
    hotfix = factories.version(alice, version.process, {"prompt": "hotfix"})
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    request_id = ask(alice, version, apply_when_approved=True).id
    hotfix_id = hotfix.id
    results = together(app, lambda: governance.decide(bob, request_id, Decision.approve).state,
                       lambda: promotion.promote(admin, hotfix_id, override_reason="outage").promoted.number)
    db.session.expire_all()
    row = db.session.get(PromotionRequest, request_id)
    if row.state is RequestState.applied:  # the approval went first: it replaced exactly what the requester saw
        assert row.outcome["result"]["deprecated_version"]["id"] == seen
        assert results[1] == 5  # the hotfix followed it
    else:
        assert row.state is RequestState.stale and isinstance(results[0], DomainError)
        assert results[0].code == "request_stale"
        assert current_production(version.process_id).promoted_from_id == hotfix_id


def test_two_workers_firing_one_schedule_at_once_apply_it_once(app, db, team, factories):
    from tests.governance.test_schedules import later
    from webapp.governance import schedules

    require_postgres(db)
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    row = later(factories, alice, version)
    row_id, run_at = row.id, row.run_at
    results = together(app, lambda: schedules.fire(row_id, now=run_at), lambda: schedules.fire(row_id, now=run_at))
    assert sorted(results) == ["done", "taken"] or sorted(results) == ["done", "running elsewhere"]
    assert current_production(version.process_id).number == 4  # one promotion, not two


def test_a_schedule_firing_while_a_hotfix_lands_applies_over_what_it_saw_or_goes_stale(app, db, team, factories):
    from tests.governance.test_schedules import later
    from webapp.governance import schedules
    from webapp.governance.models import ScheduledPromotion, ScheduleState

    require_postgres(db)
    admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    seen = current_production(version.process_id).id
    hotfix_id = factories.version(alice, version.process, {"prompt": "hotfix"}).id
    row = later(factories, alice, version)
    row_id, run_at = row.id, row.run_at
    results = together(app, lambda: schedules.fire(row_id, now=run_at),
                       lambda: promotion.promote(admin, hotfix_id).promoted.number)
    db.session.expire_all()
    row = db.session.get(ScheduledPromotion, row_id)
    if row.state is ScheduleState.done:
        assert row.outcome["result"]["deprecated_version"]["id"] == seen and results[1] == 5
    else:
        assert row.state is ScheduleState.stale and results[0] == "stale"
        assert current_production(version.process_id).promoted_from_id == hotfix_id
