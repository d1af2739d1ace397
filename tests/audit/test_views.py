"""The audit page: filters, htmx fragment, paging and exports."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from webapp.audit import services as audit


@pytest.fixture
def audited(db, factories):
    """A viewer in a workspace with a few known events, plus one event in another workspace."""
    admin = factories.user("admin", "Acme")
    for i in range(3):
        audit.record(admin, "version.promoted", "process", 7, {"n": i})
    audit.record(admin, "webhook.created", "webhook", 1)
    other = factories.user("admin", "Initech")
    audit.record(other, "version.promoted", "process", 99)
    db.session.commit()
    return factories.user("viewer", "Acme")


def test_audit_page_filters_by_action_and_resource(auth, audited):
    auth.login(audited.label)
    html = auth.get("/audit?action=version&resource=process:7").get_data(as_text=True)
    assert html.count("<code>version.promoted</code>") == 3
    assert "webhook.created" not in html.split('<section id="events">')[1]
    assert "process:99" not in html  # another workspace's event


def test_audit_page_answers_htmx_with_the_table_fragment(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit?action=webhook", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "<form" not in html
    assert "webhook.created" in html and "version.promoted" not in html


def test_audit_page_with_a_bad_date_is_400_with_a_message(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit?since=yesterday")
    assert response.status_code == 400 and "ISO 8601" in response.get_data(as_text=True)


def test_a_filter_that_cannot_be_read_is_said_beside_the_form_which_keeps_what_was_typed(auth, audited):
    auth.login(audited.label)
    page = auth.get("/audit?action=webhook&actor=ana%40example.com&actor_match=contains&since=yesterday")
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 400 and '<form class="audit-filters"' in html
    assert re.search(r'<p class="audit-problem" role="alert">\s*\'since\' must be an ISO 8601 date', html)
    assert 'name="action" value="webhook"' in html and 'name="actor" value="ana@example.com"' in html
    assert '<option value="contains" selected>' in html
    fragment = auth.get("/audit?actor_match=maybe", htmx=True)  # htmx swaps a 400 into #events
    assert fragment.status_code == 400 and "<form" not in fragment.get_data(as_text=True)
    assert "'actor_match' must be exact or contains." in unescape(fragment.get_data(as_text=True))


@pytest.fixture
def ana_and_dana(db, factories):
    ana = factories.user("admin", "Acme", email="ana@example.com")
    dana = factories.user("editor", "Acme", email="dana@example.com")
    audit.record(ana, "thing.done", "thing", 1)
    audit.record(dana, "thing.done", "thing", 2)
    audit.record(ana, "thing.done", "thing", 3, actor_label="50%_off@example.com")
    db.session.commit()
    return ana


def test_the_actor_filter_is_exact_unless_contains_is_asked_for(auth, ana_and_dana):
    auth.login(ana_and_dana.label)

    def actors(query: str) -> list[str]:
        html = auth.get(f"/audit?{query}", htmx=True).get_data(as_text=True)
        return re.findall(r'<td class="audit-who"[^>]*>([^<]*)</td>', html)

    assert actors("actor=ana@example.com") == ["ana@example.com"]
    assert actors("actor=ana@example.com&actor_match=exact") == ["ana@example.com"]
    assert actors("actor=ana@example.com&actor_match=contains") == ["dana@example.com", "ana@example.com"]
    assert actors("actor=ana") == []
    assert actors("actor=%25_off&actor_match=contains") == ["50%_off@example.com"]  # % and _ are not wildcards
    assert actors("actor=0%25&actor_match=contains") == ["50%_off@example.com"]
    assert actors("actor=n_&actor_match=contains") == []


def test_the_api_matches_the_actor_exactly_unless_contains_is_asked_for(client, factories, ana_and_dana):
    headers = {"Authorization": f"Bearer {factories.personal_token(ana_and_dana)}"}

    def actors(query: str) -> list[str]:
        response = client.get(f"/api/v1/audit?action=thing&{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [e["actor"] for e in response.get_json()]

    assert actors("actor=ana@example.com") == ["ana@example.com"]
    assert actors("actor=ana@example.com&actor_match=contains") == ["dana@example.com", "ana@example.com"]
    bad = client.get("/api/v1/audit?actor=ana&actor_match=maybe", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_request"


def test_audit_pages_are_100_events_long_with_an_older_link_and_no_count(auth, db, factories):
    admin = factories.user("admin")
    for i in range(101):
        audit.record(admin, "test.event", "thing", i)
    db.session.commit()
    auth.login(admin.label)
    first = unescape(auth.get("/audit?action=test").get_data(as_text=True))
    assert first.count("<code>test.event</code>") == 100 and "more older" in first and " of " not in first.split(
        '<nav class="pager"')[1]
    older = re.search(r'<a href="(/audit\?older=[0-9-]+&action=test)" rel="next"', first)
    assert older, "no Older link carrying a cursor and the filter"
    second = auth.get(older[1]).get_data(as_text=True)
    assert second.count("<code>test.event</code>") == 1 and "none older" in second


def test_audit_exports_csv_with_current_filters(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit/export?format=csv&action=webhook")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["action"], r["resource_type"], r["resource_id"]) for r in rows] == [("webhook.created", "webhook", "1")]


def test_audit_exports_json(auth, audited):
    auth.login(audited.label)
    response = auth.get("/audit/export?format=json&resource=process:7")
    assert response.mimetype == "application/json" and "attachment" in response.headers["Content-Disposition"]
    events = response.get_json()
    assert len(events) == 3 and {e["action"] for e in events} == {"version.promoted"}
    assert sorted(e["details"]["n"] for e in events) == [0, 1, 2]


def test_audit_export_in_an_unknown_format_is_400(auth, audited):
    auth.login(audited.label)
    assert auth.get("/audit/export?format=xml").status_code == 400
