"""The desk (`/`): every member lands there after signing in and sees what waits for them — reviews they may
decide (theirs first), scheduled promotions, failed jobs for admins — tonight's and the next game night, their own
availability, and the latest promotions of all three flows. The nav shows each role only what it may open."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.governance.test_requests import NEEDS_ONE, ask, sandbox_version
from tests.governance.test_schedule_pages import when
from webapp.desk import services as desk
from webapp.governance import schedules
from webapp.governance import services as governance
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.processes import promotion


def page(auth, url="/") -> str:
    response = auth.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def nav(html: str) -> str:
    return html.split("<main")[0]


def test_a_player_signs_in_and_lands_on_the_desk_with_their_own_availability(auth, factories):
    admin = factories.user("admin", "Acme")
    factories.player(admin.workspace_id, "ada@example.com", "available", name="Ada")
    signed_in = auth.login("ada@example.com")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    html = page(auth)
    assert "<h1>Desk</h1>" in html
    days = html.split('class="desk-days"')[1].split("</ul>")[0]
    assert re.search(r"Today</span>\s*<span class=\"badge[^\"]*\">available</span>", days), days
    assert "Set my availability" in html
    assert "Waiting for you" not in html  # a player decides no reviews and runs no jobs


def test_anonymous_visitors_are_sent_to_the_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_reviews_the_member_may_decide_come_first_and_the_requester_sees_theirs_waiting(auth, db, factories):
    admin = factories.user("admin", "Acme", email="admin@example.com")
    alice = factories.user("promoter", "Acme", email="alice@example.com")
    bob = factories.user("promoter", "Acme", email="bob@example.com")
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    request = ask(alice, version)
    auth.login("bob@example.com")
    bobs = page(auth).split('id="desk-waiting-title"')[1]
    assert f'data-request-id="{request.id}"' in bobs and "yours to review" in bobs
    assert "Support bot v3" in bobs and "asked by alice@example.com" in bobs
    auth.logout()
    auth.login("alice@example.com")
    alices = page(auth).split('id="desk-waiting-title"')[1].split("</article>")[0]
    assert "waiting for others" in alices and "yours to review" not in alices
    assert desk.desk(bob).reviewable == {request.id} and desk.desk(alice).reviewable == set()


def test_scheduled_promotions_are_listed_with_their_local_time_and_page(auth, db, factories):
    alice = factories.user("promoter", "Acme", email="alice@example.com")
    version = sandbox_version(factories, alice)
    token = promotion.promotion_preview(alice, version.id).token
    row = schedules.schedule(alice, schedules.ScheduleCommand.model_validate(
        {"flow": "process", "source": version.id, "preview_token": token, **when(45)}))
    auth.login("alice@example.com")
    waiting = page(auth).split('id="desk-waiting-title"')[1].split("</article>")[0]
    assert f'data-schedule-id="{row.id}"' in waiting and 'href="/processes/support-bot"' in waiting
    assert "set by alice@example.com" in waiting


def test_admins_see_the_failed_jobs_with_a_link_and_promoters_do_not(auth, db, factories):
    admin = factories.user("admin", "Acme", email="admin@example.com")
    factories.user("promoter", "Acme", email="pat@example.com")
    db.session.add(OutboxEffect(workspace_id=admin.workspace_id, kind="webhook.deliver", payload={},
                                status=EffectStatus.failed))
    db.session.commit()
    auth.login("admin@example.com")
    html = page(auth)
    assert "1 failed" in html and 'href="/jobs"' in html.split("<main")[1]
    auth.logout()
    auth.login("pat@example.com")
    assert "failed" not in page(auth).split("<main")[1]


def test_the_latest_promotions_span_the_three_flows_newest_first_with_who_and_links(auth, db, factories):
    from webapp.gamenight import campaigns
    from webapp.gamenight.campaign_plans import CampaignChoices
    from webapp.worlds import promotion as world_promotion

    admin = factories.user("admin", "Acme", email="admin@example.com")
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc, {"greeting": "hi"})
    limbo = factories.live_room(admin)
    area = factories.build_project(admin)
    world_promotion.promote(admin, area.id, limbo.id, "north")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(_ws_zone(admin)).date()
    night, _ = campaigns.create(admin, CampaignChoices(day=tomorrow.isoformat(), start_time="21:00"))
    latest = desk.latest(admin.workspace_id)
    assert [p.flow for p in latest] == ["game night", "world", "process"]
    assert latest[2].what == "v1 to production as v2" and latest[2].who == "admin@example.com"
    assert latest[1].what == "into the live world" and latest[0].what == "reminders scheduled"
    auth.login("admin@example.com")
    shown = page(auth).split('id="desk-latest-title"')[1]
    assert 'href="/processes/greeter"' in shown and f'href="/builds/{area.id}"' in shown
    assert f'href="/campaigns/{night.id}"' in shown


def _ws_zone(actor):
    from webapp.gamenight import night_settings

    return night_settings.workspace(actor.workspace_id).zone


def test_tonight_is_the_promoted_campaign_and_next_a_weekly_nights_tentative_one(db, factories):
    from webapp.gamenight import campaigns
    from webapp.gamenight import schedules as weekly
    from webapp.gamenight.campaign_plans import CampaignChoices

    admin = factories.user("admin", "Acme")
    zone = _ws_zone(admin)
    noon = datetime.now(zone).replace(hour=12, minute=0, second=0, microsecond=0)
    factories.player(admin.workspace_id, "ada@example.com", "available", day=noon.date())
    campaigns.create(admin, CampaignChoices(day=noon.date().isoformat(), start_time="21:00"), now=noon.astimezone(UTC))
    weekly.create(admin, weekly.ScheduleCommand(weekdays=list(weekly.WEEKDAYS)), now=noon.astimezone(UTC))
    found = desk.desk(admin, now=noon.astimezone(UTC))
    assert found.tonight is not None and found.tonight.state == "scheduled" and found.tonight.ready == 1
    assert found.tonight.campaign_id is not None
    assert found.next_night is not None and found.next_night.day > noon.date()
    assert found.next_night.state == "tentative" and found.next_night.campaign_id is None


ADMIN_ONLY = ("/settings/keys", "/settings/webhooks", "/settings/members", "/jobs", "/settings/gamenight", "/reviews/policy")


def test_the_nav_shows_each_role_only_links_it_may_open_and_each_answers(auth, db, factories):
    for role in ("viewer", "editor", "promoter", "admin"):
        factories.user(role, "Acme", email=f"{role}@example.com")
    for role in ("viewer", "editor", "promoter", "admin"):
        auth.login(f"{role}@example.com")
        links = re.findall(r'<a href="([^"]+)"', nav(page(auth)))
        assert "/processes" in links and "/builds" in links and "/campaigns" in links
        assert ("/reviews" in links) == (role in ("promoter", "admin"))
        for url in ADMIN_ONLY:
            assert (url in links) == (role == "admin"), (role, url)
        assert "/rq/" not in links  # operators only
        for url in links:
            answer = auth.get(url)
            assert answer.status_code in (200, 302), (role, url, answer.status_code)
        auth.logout()
