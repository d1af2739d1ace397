"""The promotion engine (webapp/promotion.py) on a promotion of its own, whatever flow uses it: the signed
preview token, the "changed since you opened this dialog" 409 with the fresh preview, one commit with its
failures told apart, and what runs after the commit (webapp/outbox/services.py `enqueue_after_commit`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from webapp.errors import BadRequest, Conflict, DatabaseUnavailable
from webapp.extensions import courier, utcnow
from webapp.outbox import services as outbox
from webapp.processes.models import Process
from webapp.promotion import PreviewChanged, PreviewToken, Promotion, changed_since_opened, confirm

TOKEN = PreviewToken(salt="test-promotion", other_source="This preview token belongs to another thing.")


class ThingChanged(PreviewChanged):
    code = "thing_changed"
    default_message = "The thing changed since you opened this dialog."


@dataclass(frozen=True)
class ThingPreview:
    state: int
    token: str

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "preview_token": self.token}


class ThingPromotion(Promotion[Process]):
    """Promotes a process row named `slug` into the actor's workspace, over a `target` state the test sets."""

    token = TOKEN
    changed = ThingChanged

    def __init__(self, workspace_id: int, slug: str, target: dict[str, int], refuse: str | None = None) -> None:
        self.workspace_id, self.slug, self.target, self.refuse = workspace_id, slug, target, refuse
        self.events: list[str] = []

    def source(self) -> Any:
        return ("thing", self.slug)  # a tuple comes back from the token as a list: still the same source

    def seen_now(self) -> int:
        return self.target["state"]

    def fresh_preview(self) -> ThingPreview:
        self.events.append("fresh")
        return ThingPreview(state=self.target["state"], token=self.sign())

    def check(self) -> None:
        if self.refuse:
            raise Conflict(self.refuse, code="thing_refused")

    def write(self) -> Process:
        from webapp.extensions import db

        self.events.append("write")
        process = Process(workspace_id=self.workspace_id, name=self.slug, slug=self.slug)
        db.session.add(process)
        db.session.flush()
        return process

    def after_commit(self, result: Process) -> None:
        self.events.append(f"after_commit:{result.slug}")


def _processes(db: Any) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Process)) or 0


def test_a_token_reads_back_the_state_its_dialog_saw_for_its_own_source(app):
    with app.test_request_context():
        token = TOKEN.sign(("thing", 7), {"exits": "abc"})
        assert TOKEN.seen(token, ("thing", 7)) == {"exits": "abc"}
        assert TOKEN.still_holds(token, ["thing", 7], {"exits": "abc"})
        assert not TOKEN.still_holds(token, ("thing", 7), {"exits": "abd"})


def test_a_token_for_another_source_is_a_400_naming_it(app):
    with app.test_request_context():
        token = TOKEN.sign(7, None)
        with pytest.raises(BadRequest, match="belongs to another thing"):
            TOKEN.seen(token, 8)


@pytest.mark.parametrize("tamper", [lambda t: t[:-2] + "xx", lambda t: "not-a-token",
                                    lambda t: PreviewToken("other-salt", "…").sign(7, None)])
def test_a_token_not_signed_by_us_with_this_salt_is_a_400(app, tamper):
    not_valid = "The preview token is not valid; open the promotion dialog again."
    with app.test_request_context(), pytest.raises(BadRequest, match=not_valid):
        TOKEN.seen(tamper(TOKEN.sign(7, None)), 7)


def test_changed_since_opened_rolls_back_and_carries_the_fresh_preview_with_the_flows_code(app, db, factories):
    actor = factories.user("promoter")
    db.session.add(Process(workspace_id=actor.workspace_id, name="Unsaved", slug="unsaved"))
    with pytest.raises(ThingChanged) as raised:
        changed_since_opened(ThingChanged, lambda: ThingPreview(state=2, token="t"))
    error = raised.value
    assert (error.status, error.code, error.message) == (409, "thing_changed", ThingChanged.default_message)
    assert error.details == {"state": 2, "preview_token": "t"}
    assert _processes(db) == 0  # what was written under the lock went with the rollback


def test_confirm_with_a_token_that_holds_writes_commits_then_runs_after_commit(app, db, factories):
    actor = factories.user("promoter")
    with app.test_request_context():
        promotion = ThingPromotion(actor.workspace_id, "ok", {"state": 1})
        result = confirm(promotion, promotion.sign())
    assert result.slug == "ok" and promotion.events == ["write", "after_commit:ok"]
    assert _processes(db) == 1  # committed, not only flushed


def test_confirm_over_a_changed_target_is_the_409_with_the_fresh_preview_and_writes_nothing(app, db, factories):
    actor = factories.user("promoter")
    target = {"state": 1}
    with app.test_request_context():
        promotion = ThingPromotion(actor.workspace_id, "late", target)
        opened = promotion.sign()
        target["state"] = 2  # someone promoted meanwhile
        with pytest.raises(ThingChanged) as raised:
            confirm(promotion, opened)
    assert raised.value.details["state"] == 2
    assert promotion.events == ["fresh"]
    assert _processes(db) == 0


def test_confirm_without_a_token_compares_nothing(app, db, factories):
    actor = factories.user("promoter")
    with app.test_request_context():
        promotion = ThingPromotion(actor.workspace_id, "script", {"state": 5})
        confirm(promotion, None)
    assert _processes(db) == 1


def test_the_flows_own_refusal_comes_after_the_token_and_before_any_write(app, db, factories):
    actor = factories.user("promoter")
    with app.test_request_context():
        promotion = ThingPromotion(actor.workspace_id, "refused", {"state": 1}, refuse="An exit is taken.")
        with pytest.raises(Conflict, match="An exit is taken."):
            confirm(promotion, promotion.sign())
    assert promotion.events == []


def test_a_lost_race_at_write_is_the_409_with_the_fresh_preview(app, db, factories):
    actor = factories.user("promoter")
    db.session.add(Process(workspace_id=actor.workspace_id, name="Taken", slug="taken"))
    db.session.commit()
    with app.test_request_context():
        promotion = ThingPromotion(actor.workspace_id, "taken", {"state": 1})  # the unique slug decides the race
        with pytest.raises(ThingChanged):
            confirm(promotion, promotion.sign())
    assert promotion.events == ["write", "fresh"]
    assert _processes(db) == 1


def test_a_database_failure_that_is_no_race_is_a_503_saying_nothing_was_changed(app, db, factories, monkeypatch):
    actor = factories.user("promoter")
    promotion = ThingPromotion(actor.workspace_id, "dropped", {"state": 1})

    def dropped() -> Process:
        raise OperationalError("INSERT …", {}, Exception("server closed the connection"), connection_invalidated=True)

    monkeypatch.setattr(promotion, "write", dropped)
    with app.test_request_context(), pytest.raises(DatabaseUnavailable) as raised:
        confirm(promotion, promotion.sign())
    assert raised.value.message == ("The database connection was lost during the promotion; nothing was changed. "
                                    "Try again.")
    assert promotion.events == []


def test_a_failed_commit_leaves_the_outcome_unknown_in_the_flows_words(app, db, factories, monkeypatch):
    from webapp.extensions import db as _db

    actor = factories.user("promoter")
    promotion = ThingPromotion(actor.workspace_id, "sent", {"state": 1})
    promotion.outcome_unknown = "it may or may not have been saved; look at the thing."

    def lost_at_commit() -> None:
        raise OperationalError("COMMIT", {}, Exception("connection reset"), connection_invalidated=True)

    monkeypatch.setattr(_db.session, "commit", lost_at_commit)
    unknown = "may or may not have been saved; look at the thing."
    with app.test_request_context(), pytest.raises(DatabaseUnavailable, match=unknown):
        confirm(promotion, None)
    assert "after_commit:sent" not in promotion.events


def test_enqueue_after_commit_waits_for_the_commit(app, db, redis):
    outbox.enqueue_after_commit("jobs.outbox.run_effect", 41, job_id="test-after-commit")
    assert "test-after-commit" not in courier.queue().job_ids
    db.session.commit()
    assert "test-after-commit" in courier.queue().job_ids


def test_enqueue_after_commit_is_dropped_when_the_transaction_rolls_back(app, db, redis):
    outbox.enqueue_after_commit("jobs.outbox.run_effect", 42, job_id="test-rolled-back")
    db.session.rollback()
    db.session.commit()
    assert "test-rolled-back" not in courier.queue().job_ids


def test_enqueue_after_commit_at_a_time_goes_on_rqs_schedule(app, db, redis):
    at = utcnow() + timedelta(hours=1)
    outbox.enqueue_after_commit("jobs.outbox.run_effect", 43, job_id="test-timed", at=at)
    db.session.commit()
    queue = courier.queue()
    assert "test-timed" not in queue.job_ids
    scheduled = ScheduledJobRegistry(queue.name, connection=queue.connection)
    assert "test-timed" in scheduled.get_job_ids()


def test_enqueue_now_takes_a_job_off_rqs_schedule_so_it_runs_once(app, db, redis):
    queue = courier.queue()
    assert outbox.enqueue("jobs.outbox.run_effect", 44, job_id="test-moved", at=utcnow() + timedelta(hours=1))
    assert outbox.enqueue("jobs.outbox.run_effect", 44, job_id="test-moved")
    assert "test-moved" in queue.job_ids
    assert "test-moved" not in ScheduledJobRegistry(queue.name, connection=queue.connection).get_job_ids()


def test_enqueue_answers_false_when_redis_is_down(app, monkeypatch):
    import redis as redis_lib

    def redis_is_down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis_lib.ConnectionError("down")

    monkeypatch.setattr(courier, "queue", redis_is_down)
    assert outbox.enqueue("jobs.outbox.run_effect", 45, job_id="test-down") is False
