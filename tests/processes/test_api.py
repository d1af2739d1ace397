"""The processes management API (personal access tokens, webapp/processes/api.py), held to the DESIGN.md v1 contract."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from webapp.accounts import services as accounts
from webapp.accounts.models import TokenKind
from webapp.processes import documents, promotion
from webapp.processes.models import ProcessVersion

# Each request gets a fresh `g`, as in production (the cached actor must not leak between requests).

VERSION_KEYS = {"id", "version", "environment", "status", "change_notes", "created_at", "promoted_by",
                "copied_from"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    if code:
        assert body["error"] == code
    return body


# -- processes ----------------------------------------------------------------------------------


def test_create_process_returns_201_with_its_slug_and_it_is_listed(client, promoter_and_token):
    _, token = promoter_and_token
    response = client.post("/api/v1/processes", json={"name": "Support Triage"}, headers=bearer(token))
    assert response.status_code == 201
    assert response.get_json()["slug"] == "support-triage"
    assert response.get_json()["name"] == "Support Triage"
    listed = client.get("/api/v1/processes", headers=bearer(token))
    assert listed.status_code == 200
    assert [p["slug"] for p in listed.get_json()] == ["support-triage"]
    assert listed.get_json()[0]["production_version"] is None


def test_create_process_with_an_explicit_slug_uses_it(client, promoter_and_token):
    response = client.post("/api/v1/processes", json={"name": "X", "slug": "My Slug"}, headers=bearer(promoter_and_token[1]))
    assert response.status_code == 201 and response.get_json()["slug"] == "my-slug"


def test_a_duplicate_slug_is_409_and_creates_nothing(client, db, promoter_and_token):
    _, token = promoter_and_token
    assert client.post("/api/v1/processes", json={"name": "Triage"}, headers=bearer(token)).status_code == 201
    assert_error(client.post("/api/v1/processes", json={"name": "triage"}, headers=bearer(token)), 409)
    assert len(client.get("/api/v1/processes", headers=bearer(token)).get_json()) == 1


def test_a_missing_name_is_422(client, promoter_and_token):
    body = assert_error(client.post("/api/v1/processes", json={}, headers=bearer(promoter_and_token[1])), 422)
    assert "name" in body["details"]


def test_a_body_that_is_not_json_is_400_with_error_and_message(client, promoter_and_token):
    response = client.post("/api/v1/processes", data="{name: oops", content_type="application/json",
                           headers=bearer(promoter_and_token[1]))
    assert_error(response, 400)
    assert client.get("/api/v1/processes", headers=bearer(promoter_and_token[1])).get_json() == []


def test_a_json_array_body_is_400(client, promoter_and_token):
    assert_error(client.post("/api/v1/processes", json=["Triage"], headers=bearer(promoter_and_token[1])), 400)


# -- versions ------------------------------------------------------------------------------------


def test_versions_are_listed_newest_first_with_the_contract_keys(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    factories.version(actor, proc, notes="first")
    factories.production(actor, proc)
    factories.version(actor, proc, activate=False, notes="latest")
    response = client.get(f"/api/v1/processes/{proc.slug}/versions", headers=bearer(token))
    assert response.status_code == 200
    versions = response.get_json()
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    assert all(set(v) == VERSION_KEYS for v in versions)
    assert [(v["environment"], v["status"]) for v in versions] == [
        ("sandbox", "draft"), ("production", "active"), ("sandbox", "active"), ("sandbox", "active")]
    assert versions[0]["change_notes"] == "latest"
    assert versions[1]["promoted_by"] == actor.label and versions[0]["promoted_by"] is None
    datetime.fromisoformat(versions[0]["created_at"])
    assert response.headers["X-Total-Count"] == "4" and "Link" not in response.headers


def test_a_paged_version_list_says_how_many_there_are_and_links_the_next_page(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    for _ in range(5):
        factories.version(actor, proc, activate=False)
    first = client.get(f"/api/v1/processes/{proc.slug}/versions?per_page=2", headers=bearer(token))
    assert [v["version"] for v in first.get_json()] == [5, 4] and first.headers["X-Total-Count"] == "5"
    seen, response = [], first
    while True:
        seen += [v["version"] for v in response.get_json()]
        link = response.headers.get("Link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        response = client.get(link[1:link.index(">")], headers=bearer(token))
    assert seen == [5, 4, 3, 2, 1]


def test_post_a_version_creates_a_sandbox_draft(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    response = client.post(f"/api/v1/processes/{proc.slug}/versions", headers=bearer(token), json={
        "config": {"prompt": "Hi {{ name }}"}, "input_schema": {"type": "object"}, "change_notes": "v1"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == VERSION_KEYS
    assert (body["environment"], body["status"], body["version"], body["change_notes"]) == (
        "sandbox", "draft", 1, "v1")


def test_post_a_version_without_config_is_400_and_with_a_bad_schema_is_422(client, db, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    url = f"/api/v1/processes/{proc.slug}/versions"
    assert_error(client.post(url, headers=bearer(token), json={"change_notes": "x"}), 400)
    body = assert_error(client.post(url, headers=bearer(token), json={
        "config": {"p": "x"}, "input_schema": {"type": 12}}), 422)
    assert "input_schema" in body["details"]
    assert db.session.scalar(select(func.count()).select_from(ProcessVersion)) == 0


def test_activate_turns_a_draft_into_sandbox_active_and_twice_is_409(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    draft = factories.version(actor, factories.process(actor), activate=False)
    response = client.post(f"/api/v1/versions/{draft.id}/activate", headers=bearer(token))
    assert response.status_code == 200
    assert (response.get_json()["environment"], response.get_json()["status"]) == ("sandbox", "active")
    assert_error(client.post(f"/api/v1/versions/{draft.id}/activate", headers=bearer(token)), 409)


# -- preview and promote ------------------------------------------------------------------------------


def test_promotion_preview_has_the_contract_shape(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    live = factories.production(actor, proc, {"prompt": "old", "temperature": 0.2})
    candidate = factories.version(actor, proc, {"prompt": "new", "temperature": 0.2, "seed": 1})
    response = client.get(f"/api/v1/versions/{candidate.id}/promotion-preview", headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"source", "current_production", "diff", "identical_to_production", "cache_entries",
                         "preview_token", "output_check"}
    assert body["source"]["id"] == candidate.id and body["source"]["version"] == candidate.number
    assert body["source"]["copied_from"] is None and body["identical_to_production"] is False
    assert body["current_production"]["id"] == live.id
    assert body["current_production"]["copied_from"] == live.promoted_from.number
    assert set(body["diff"]) == {"changes", "summary"}
    assert sorted((c["path"], c["type"], c["old"], c["new"]) for c in body["diff"]["changes"]) == [
        ("config.prompt", "modified", "old", "new"), ("config.seed", "added", None, 1)]
    assert body["diff"]["summary"] == "2 changes: 1 added, 1 modified"
    assert body["cache_entries"] == 0
    assert isinstance(body["preview_token"], str) and body["preview_token"]


def test_promote_returns_201_with_promoted_and_deprecated_versions(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    live = factories.production(actor, proc)
    candidate = factories.version(actor, proc, {"prompt": "new"})
    preview = client.get(f"/api/v1/versions/{candidate.id}/promotion-preview", headers=bearer(token)).get_json()
    response = client.post(f"/api/v1/versions/{candidate.id}/promote", headers=bearer(token),
                           json={"change_notes": "ship it", "preview_token": preview["preview_token"]})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"promoted_version", "deprecated_version", "cache_invalidated"}
    assert body["promoted_version"]["environment"] == "production"
    assert body["promoted_version"]["status"] == "active"
    assert body["promoted_version"]["change_notes"] == "ship it"
    assert body["promoted_version"]["promoted_by"] == actor.label
    assert body["deprecated_version"]["id"] == live.id and body["deprecated_version"]["status"] == "deprecated"
    assert body["cache_invalidated"] == 0
    assert documents.current_production(proc.id).id == body["promoted_version"]["id"]


def test_promote_with_a_stale_preview_token_is_409_production_changed_and_changes_nothing(
        client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    mine = factories.version(actor, proc, {"prompt": "mine"})
    theirs = factories.version(actor, proc, {"prompt": "theirs"})
    preview = client.get(f"/api/v1/versions/{mine.id}/promotion-preview", headers=bearer(token)).get_json()
    assert preview["current_production"] is None
    theirs_live = promotion.promote(actor, theirs.id).promoted  # someone else promotes meanwhile

    response = client.post(f"/api/v1/versions/{mine.id}/promote", headers=bearer(token),
                           json={"preview_token": preview["preview_token"]})
    body = assert_error(response, 409, "production_changed")
    assert body["details"]["current_production"]["id"] == theirs_live.id  # the fresh preview
    assert documents.current_production(proc.id).id == theirs_live.id


def test_a_preview_token_of_another_version_is_refused(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    a, b = factories.version(actor, proc), factories.version(actor, proc)
    preview = client.get(f"/api/v1/versions/{a.id}/promotion-preview", headers=bearer(token)).get_json()
    assert_error(client.post(f"/api/v1/versions/{b.id}/promote", headers=bearer(token),
                             json={"preview_token": preview["preview_token"]}), 400)
    assert documents.current_production(proc.id) is None


def test_promoting_a_draft_over_the_api_is_409_not_promotable(client, factories, promoter_and_token):
    actor, token = promoter_and_token
    draft = factories.version(actor, factories.process(actor), activate=False)
    assert_error(client.post(f"/api/v1/versions/{draft.id}/promote", headers=bearer(token), json={}),
                 409, "not_promotable")


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewer_and_editor_tokens_cannot_preview_or_promote(client, factories, role):
    admin = factories.user("admin", workspace="Acme")
    weak = factories.user(role, workspace="Acme")
    token = factories.personal_token(weak)
    version = factories.version(admin, factories.process(admin))
    assert_error(client.get(f"/api/v1/versions/{version.id}/promotion-preview", headers=bearer(token)), 403)
    assert_error(client.post(f"/api/v1/versions/{version.id}/promote", headers=bearer(token), json={}), 403)
    assert documents.current_production(version.process_id) is None


def test_a_viewer_token_cannot_create_a_process(client, factories):
    token = factories.personal_token(factories.user("viewer"))
    assert_error(client.post("/api/v1/processes", json={"name": "x"}, headers=bearer(token)), 403)


def test_a_token_without_the_role_gets_403_before_its_body_is_read(client, factories):
    admin = factories.user("admin", workspace="Acme")
    viewer = factories.personal_token(factories.user("viewer", workspace="Acme"))
    process = factories.process(admin)
    version = factories.version(admin, process)
    broken = {"data": "{not json", "headers": bearer(viewer) | {"Content-Type": "application/json"}}
    for path in ("/api/v1/processes", f"/api/v1/processes/{process.slug}/versions",
                 f"/api/v1/versions/{version.id}/promote"):
        assert_error(client.post(path, **broken), 403)


# -- authentication -----------------------------------------------------------------------------


def test_requests_without_a_token_or_with_a_bad_one_are_401(client, factories):
    factories.user("admin")
    assert_error(client.get("/api/v1/processes"), 401)
    assert_error(client.get("/api/v1/processes", headers=bearer("pdp_not-a-real-token")), 401)
    assert_error(client.get("/api/v1/processes", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)


def test_a_revoked_token_is_401(client, factories):
    actor = factories.user("admin")
    token_row, token = accounts.create_personal_token(actor)
    assert client.get("/api/v1/processes", headers=bearer(token)).status_code == 200
    accounts.revoke_token(actor, token_row.id, TokenKind.personal)
    assert_error(client.get("/api/v1/processes", headers=bearer(token)), 401)


def test_an_environment_key_is_not_a_management_token(client, factories):
    actor = factories.user("admin")
    key = factories.environment_key(actor, "production")
    assert_error(client.get("/api/v1/processes", headers=bearer(key)), 401)


# -- tenancy ------------------------------------------------------------------------------------------


def test_a_token_of_another_workspace_gets_404_for_every_route_with_our_ids(client, db, factories):
    owner = factories.user("admin", workspace="Acme")
    proc = factories.process(owner)
    draft = factories.version(owner, proc, activate=False)
    active = factories.version(owner, proc)
    intruder = factories.personal_token(factories.user("admin", workspace="Globex"))
    h = bearer(intruder)

    assert client.get("/api/v1/processes", headers=h).get_json() == []
    assert_error(client.get(f"/api/v1/processes/{proc.slug}/versions", headers=h), 404)
    assert_error(client.post(f"/api/v1/processes/{proc.slug}/versions", headers=h, json={"config": {}}), 404)
    assert_error(client.post(f"/api/v1/versions/{draft.id}/activate", headers=h), 404)
    assert_error(client.get(f"/api/v1/versions/{active.id}/promotion-preview", headers=h), 404)
    assert_error(client.post(f"/api/v1/versions/{active.id}/promote", headers=h, json={}), 404)

    assert db.session.scalar(select(func.count()).select_from(ProcessVersion)) == 2
    assert documents.current_production(proc.id) is None
    db.session.expire_all()
    assert db.session.get(ProcessVersion, draft.id).status.value == "draft"


def test_a_same_slug_in_two_workspaces_is_two_processes(client, factories):
    a, b = factories.user("admin", workspace="Acme"), factories.user("admin", workspace="Globex")
    for actor in (a, b):
        assert client.post("/api/v1/processes", json={"name": "Triage"},
                           headers=bearer(factories.personal_token(actor))).status_code == 201


# -- a CI pipeline, all over HTTP ------------------------------------------------------------------


def test_ci_pipeline_create_version_activate_preview_promote_over_http(client, factories, promoter_and_token):
    _actor, token = promoter_and_token
    h = bearer(token)
    assert client.post("/api/v1/processes", json={"name": "Release bot"}, headers=h).status_code == 201
    created = client.post("/api/v1/processes/release-bot/versions", headers=h, json={
        "config": {"prompt": "Release {{ tag }}"}, "change_notes": "from CI"})
    assert created.status_code == 201
    version_id = created.get_json()["id"]
    assert client.post(f"/api/v1/versions/{version_id}/activate", headers=h).status_code == 200
    preview = client.get(f"/api/v1/versions/{version_id}/promotion-preview", headers=h)
    assert preview.status_code == 200 and preview.get_json()["current_production"] is None
    assert preview.get_json()["diff"]["summary"] == "1 change: 1 added"
    promoted = client.post(f"/api/v1/versions/{version_id}/promote", headers=h,
                           json={"preview_token": preview.get_json()["preview_token"]})
    assert promoted.status_code == 201
    versions = client.get("/api/v1/processes/release-bot/versions", headers=h).get_json()
    assert [(v["version"], v["environment"], v["status"]) for v in versions] == [
        (2, "production", "active"), (1, "sandbox", "active")]
    assert client.get("/api/v1/processes", headers=h).get_json()[0]["production_version"] == 2


def test_promoting_a_version_identical_to_production_is_409_identical_to_production(client, db, factories,
                                                                                    promoter_and_token):
    actor, token = promoter_and_token
    proc = factories.process(actor)
    factories.production(actor, proc, {"prompt": "same"})
    twin = factories.version(actor, proc, {"prompt": "same"})
    preview = client.get(f"/api/v1/versions/{twin.id}/promotion-preview", headers=bearer(token)).get_json()
    assert preview["identical_to_production"] is True and preview["diff"]["changes"] == []
    response = client.post(f"/api/v1/versions/{twin.id}/promote", headers=bearer(token),
                           json={"preview_token": preview["preview_token"]})
    body = assert_error(response, 409, "identical_to_production")
    assert body["details"] == {"source": 3, "current_production": 2}
    assert documents.current_production(proc.id).number == 2
