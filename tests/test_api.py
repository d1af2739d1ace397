"""The audit API (personal access tokens), held to the DESIGN.md v1 contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import bearer
from tests.processes.test_api import assert_error
from webapp.processes import promotion

# -- audit --------------------------------------------------------------------------------------


def test_audit_api_filters_by_action_prefix_and_since_newest_first(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    factories.version(actor, proc)  # before `since`
    since = datetime.now(UTC) - timedelta(microseconds=1)
    later = factories.version(actor, proc)
    promoted = promotion.promote(actor, later.id).promoted
    response = client.get("/api/v1/audit", headers=bearer(token),
                          query_string={"action": "version", "since": since.isoformat()})
    assert response.status_code == 200
    events = response.get_json()
    assert [(e["action"], e["resource_id"]) for e in events] == [
        ("version.promoted", str(promoted.id)),
        ("version.activated", str(later.id)),
        ("version.created", str(later.id)),
    ]
    assert set(events[0]) >= {"id", "action", "actor", "resource_type", "resource_id", "details", "created_at"}
    assert events[0]["actor"] == actor.label


def test_audit_api_rejects_a_malformed_since_with_400(client, promoter_and_token):
    assert_error(client.get("/api/v1/audit", headers=bearer(promoter_and_token[1]), query_string={"since": "yesterday"}), 400)


def test_audit_api_shows_only_the_tokens_workspace(client, factories):
    a = factories.user("admin", workspace="Acme")
    factories.process(a)
    other = factories.personal_token(factories.user("admin", workspace="Globex"))
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=bearer(other)).get_json()]
    assert "process.created" not in actions
