"""The output schema is enforced: `invoke` checks what it rendered (422 `output_invalid` with paths), and the promote
dialog warns when the source's output schema rejects what production answers today for the cached inputs."""

from __future__ import annotations

from tests.conftest import bearer
from webapp.processes import cache, documents, promotion

SHORT_PROMPT = {"type": "object", "required": ["prompt"],
                "properties": {"prompt": {"type": "string", "maxLength": 8}, "labels": {"type": "array",
                                                                                       "items": {"type": "string"}}}}


def _version(admin, proc, config, output_schema=None, *, production=False):
    v = documents.create_draft(admin, proc, config, None, output_schema, "")
    documents.activate(admin, v.id)
    return promotion.promote(admin, v.id).promoted if production else v


def _invoke(client, key, body, slug="greeter"):
    return client.post(f"/api/v1/serve/{slug}/invoke", json=body, headers=bearer(key))


def test_invoke_answers_422_output_invalid_naming_each_path_and_caches_nothing(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    _version(admin, proc, {"prompt": "Hello {{ name }}", "labels": ["a", "{{ n }}"]},
             {**SHORT_PROMPT, "properties": {**SHORT_PROMPT["properties"],
                                             "labels": {"type": "array", "items": {"type": "string", "minLength": 1}}}},
             production=True)
    key = factories.environment_key(admin)
    response = _invoke(client, key, {"name": "Ada Lovelace"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "output_invalid"
    assert [d["path"] for d in body["details"]["errors"]] == ["labels/1", "prompt"]
    assert "too long" in body["details"]["errors"][1]["message"]
    assert cache.count(proc.id) == 0
    assert _invoke(client, key, {"name": "Ada Lovelace"}).status_code == 422  # not served from a cache either


def test_invoke_answers_an_output_that_matches_and_caches_it(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    _version(admin, proc, {"prompt": "Hi {{ name }}"}, SHORT_PROMPT, production=True)
    key = factories.environment_key(admin)
    first = _invoke(client, key, {"name": "Bo"})
    assert first.status_code == 200 and first.get_json()["output"] == {"prompt": "Hi Bo"}
    again = _invoke(client, key, {"name": "Bo"}).get_json()
    assert again["cached"] is True and cache.count(proc.id) == 1


def test_an_output_schema_that_cannot_be_evaluated_is_a_clear_422(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    live = _version(admin, proc, {"prompt": "Hi"}, production=True)
    # Written past the editor's check (an older version could hold it): a reference nothing resolves.
    live.output_schema = {"$ref": "#/$defs/missing"}
    from webapp.extensions import db

    db.session.commit()
    response = _invoke(client, factories.environment_key(admin), {})
    assert response.status_code == 422 and response.get_json()["error"] == "schema_unusable"


def _cached_production(client, factories, admin):
    """Production without an output schema, with three answers in the cache ("Hi Bo" fits 8 characters, the others
    do not), and a candidate whose output schema allows 8."""
    proc = factories.process(admin, "Greeter")
    _version(admin, proc, {"prompt": "Hi {{ name }}"}, production=True)
    key = factories.environment_key(admin)
    for name in ("Bo", "Ada Lovelace", "Grace Hopper"):
        assert _invoke(client, key, {"name": name}).status_code == 200
    return _version(admin, proc, {"prompt": "Hi {{ name }}"}, SHORT_PROMPT)


def test_promote_dialog_warns_when_the_sources_output_schema_rejects_productions_cached_answers(
        auth, client, factories, admin):
    candidate = _cached_production(client, factories, admin)
    auth.login(admin.label)
    html = auth.get(f"/versions/{candidate.id}/promote", htmx=True).get_data(as_text=True)
    assert f"v{candidate.number}'s output schema rejects 2 of 3 answers production gives today" in html
    assert "<code>prompt</code>: " in html and "is too long" in html


def test_promotion_preview_api_reports_the_output_check(client, factories, admin):
    candidate = _cached_production(client, factories, admin)
    token = factories.personal_token(admin)
    check = client.get(f"/api/v1/versions/{candidate.id}/promotion-preview", headers=bearer(token)).get_json()[
        "output_check"]
    assert (check["checked"], check["rejected"], check["unusable"]) == (3, 2, None)
    assert check["errors"][0]["path"] == "prompt"


def test_promote_dialog_says_the_output_schema_accepts_productions_answers_when_it_does(
        auth, client, factories, admin):
    proc = factories.process(admin, "Greeter")
    _version(admin, proc, {"prompt": "Hi {{ name }}"}, production=True)
    key = factories.environment_key(admin)
    _invoke(client, key, {"name": "Bo"})
    candidate = _version(admin, proc, {"prompt": "Hey {{ name }}"}, SHORT_PROMPT)
    auth.login(admin.label)
    html = auth.get(f"/versions/{candidate.id}/promote", htmx=True).get_data(as_text=True)
    assert "output schema accepts all 1 cached answer of" in html and "rejects" not in html


def test_preview_has_no_output_check_without_an_output_schema_or_a_production_version(client, factories, admin):
    proc = factories.process(admin, "Greeter")
    first = _version(admin, proc, {"prompt": "Hi"}, SHORT_PROMPT)
    token = factories.personal_token(admin)
    url = f"/api/v1/versions/{first.id}/promotion-preview"
    assert client.get(url, headers=bearer(token)).get_json()["output_check"] is None  # nothing in production
    promotion.promote(admin, first.id)
    plain = _version(admin, proc, {"prompt": "Hey"})
    assert client.get(f"/api/v1/versions/{plain.id}/promotion-preview",
                      headers=bearer(token)).get_json()["output_check"] is None
