"""The audit page: filters, htmx fragment, paging and exports."""

from __future__ import annotations

import csv
import io

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


def test_audit_pages_are_100_events_long(auth, db, factories):
    admin = factories.user("admin")
    for i in range(101):
        audit.record(admin, "test.event", "thing", i)
    db.session.commit()
    auth.login(admin.label)
    first = auth.get("/audit?action=test").get_data(as_text=True)
    assert first.count("<code>test.event</code>") == 100 and "page 1 of 2" in first
    assert 'href="/audit?page=2&amp;action=test"' in first
    second = auth.get("/audit?action=test&page=2").get_data(as_text=True)
    assert second.count("<code>test.event</code>") == 1


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
