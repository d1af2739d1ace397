"""The member's private calendar feed, read back the way a calendar app reads it (the `icalendar` parser): the
nights they are invited to at the right local time across a DST switch and in a zone without one, a cancelled
night as STATUS:CANCELLED with a higher SEQUENCE, the same UID at every fetch, a 304 when nothing changed, a 404
for a token that is unknown, revoked or replaced, nobody else's nights, and a token shown once and never
logged, stored or exported; a night the member answered "can't" as free time in their feed alone, and a weekly
schedule's nights tentative ahead under the UID their campaign then keeps, cancelled when skipped."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import delete, select

from webapp.accounts.models import Membership, User, Workspace
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.gamenight import availability, calendar_feed, campaign_answers, campaigns, schedules
from webapp.gamenight.campaign_answers import AnswerCommand
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import CalendarFeed, Campaign, NightStatus, ScheduledNight, Status
from webapp.gamenight.schedules import ScheduleCommand

LJUBLJANA = ZoneInfo("Europe/Ljubljana")
FEED_URL = re.compile(r"http://[^\"<\s]+(/calendar/pdcal_[A-Za-z0-9_-]{43}\.ics)")


def last_sunday(month: int, after: date) -> date:
    """The last Sunday of `month` (the EU's switch day) in the first year where it comes after `after`."""
    for year in (after.year, after.year + 1):
        day = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        if day > after:
            return day
    raise AssertionError("unreachable")


def subscribe(auth, email: str) -> str:
    """`email` signs in and gets a calendar URL on the profile page; its path."""
    auth.logout()
    auth.login(email)
    page = auth.post("/profile/calendar")
    assert page.status_code == 200
    return FEED_URL.search(page.get_data(as_text=True)).group(1)


def parsed(response) -> Calendar:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def events(cal: Calendar) -> dict[str, object]:
    """The events by UID; a UID twice in one feed would be two events of one night in the calendar app."""
    found = cal.walk("VEVENT")
    assert len({str(e["UID"]) for e in found}) == len(found), [str(e["UID"]) for e in found]
    return {str(e["UID"]): e for e in found}


def member(factories, ws_id: int, email: str, *days: date) -> int:
    """A linked, opted-in member available on each of `days`."""
    uid = factories.player(ws_id, email, "available", day=days[0])
    for day in days[1:]:
        availability.set_status(ws_id, uid, day, Status.available, actor_label="test")
    return uid


def night(promoter, day: date, start: str = "21:00", **choices):
    campaign, _ = campaigns.create(promoter, CampaignChoices(day=day.isoformat(), start_time=start, **choices))
    return campaign


def test_the_nights_come_back_at_21_00_local_on_both_sides_of_the_spring_and_autumn_switch(
        db, client, auth, promoter, factories):
    today = utcnow().astimezone(LJUBLJANA).date()
    spring, autumn = last_sunday(3, today + timedelta(days=1)), last_sunday(10, today + timedelta(days=1))
    days = [spring - timedelta(days=1), spring, autumn - timedelta(days=1), autumn]
    member(factories, promoter.workspace_id, "jana@example.com", *days)
    nights = {day: night(promoter, day) for day in days}

    cal = parsed(client.get(subscribe(auth, "jana@example.com")))

    found = events(cal)
    assert len(found) == 4
    zones = {str(tz["TZID"]): tz for tz in cal.walk("VTIMEZONE")}
    assert set(zones) == {"Europe/Ljubljana"}  # the VTIMEZONE a client without the zone database reads
    from_vtimezone = zones["Europe/Ljubljana"].to_tz()
    expected_utc = {spring - timedelta(days=1): 20, spring: 19, autumn - timedelta(days=1): 19, autumn: 20}
    for day, campaign in nights.items():
        event = found[calendar_feed.uid(db.session.get(Workspace, promoter.workspace_id), campaign)]
        assert event["DTSTART"].params["TZID"] == "Europe/Ljubljana"
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert (start.date(), start.hour, start.minute) == (day, 21, 0)
        assert start.astimezone(UTC) == datetime(day.year, day.month, day.day, expected_utc[day], tzinfo=UTC)
        assert start.astimezone(UTC) == campaign.start_at
        # The same wall time read through the feed's own VTIMEZONE is the same instant.
        assert start.replace(tzinfo=from_vtimezone).astimezone(UTC) == campaign.start_at
        assert end - start == calendar_feed.NIGHT_LENGTH
        assert str(event["STATUS"]) == "CONFIRMED" and event["SEQUENCE"] == 0


def test_a_zone_without_dst_gives_the_same_offset_all_year(db, client, auth, promoter, factories):
    ws = db.session.get(Workspace, promoter.workspace_id)
    ws.time_zone = "Asia/Kolkata"  # +05:30 all year
    db.session.commit()
    today = utcnow().astimezone(ZoneInfo("Asia/Kolkata")).date()
    days = [today + timedelta(days=30), today + timedelta(days=200)]
    member(factories, ws.id, "ravi@example.com", *days)
    nights = [night(promoter, day) for day in days]

    cal = parsed(client.get(subscribe(auth, "ravi@example.com")))

    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Kolkata"]
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Kolkata"
    for campaign, event in zip(nights, cal.walk("VEVENT"), strict=True):
        start = event.decoded("DTSTART")
        assert event["DTSTART"].params["TZID"] == "Asia/Kolkata"
        assert (start.hour, start.minute) == (21, 0)
        assert start.utcoffset() == timedelta(hours=5, minutes=30)
        assert start.astimezone(UTC) == campaign.start_at and campaign.start_at.astimezone(UTC).hour == 15


def test_a_cancelled_night_stays_with_its_uid_as_cancelled_with_a_higher_sequence(db, client, auth, promoter,
                                                                                    factories):
    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=3)
    member(factories, promoter.workspace_id, "jana@example.com", day)
    campaign = night(promoter, day)
    path = subscribe(auth, "jana@example.com")
    before = client.get(path)
    (uid, event), = events(parsed(before)).items()

    campaigns.cancel(promoter, campaign.id)
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200  # changed: the old ETag no longer matches
    cancelled = events(parsed(after))[uid]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled["SEQUENCE"] > event["SEQUENCE"]
    cancelled_at = db.session.get(type(campaign), campaign.id).cancelled_at
    assert cancelled.decoded("LAST-MODIFIED") == cancelled_at.replace(microsecond=0)  # iCalendar counts seconds
    assert cancelled.decoded("DTSTAMP") == cancelled.decoded("LAST-MODIFIED") >= event.decoded("LAST-MODIFIED")
    assert cancelled.decoded("DTSTART") == event.decoded("DTSTART")


def test_the_same_rows_give_the_same_feed_and_an_etag_answered_with_304(client, auth, promoter, factories):
    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=2)
    member(factories, promoter.workspace_id, "jana@example.com", day, day + timedelta(days=1))
    night(promoter, day)
    night(promoter, day + timedelta(days=1))
    path = subscribe(auth, "jana@example.com")
    auth.logout()  # the feed needs no session: a calendar app has none

    first, second = client.get(path), client.get(path)

    assert first.data == second.data and set(events(parsed(first))) == set(events(parsed(second)))
    assert len(events(parsed(first))) == 2
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    cal = parsed(first)
    assert cal.decoded("REFRESH-INTERVAL") == timedelta(hours=1) and cal["X-PUBLISHED-TTL"].to_ical() == b"PT1H"
    unchanged = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""


def test_only_the_members_own_nights_are_in_their_feed(db, client, auth, promoter, factories):
    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=2)
    member(factories, promoter.workspace_id, "jana@example.com", day)
    factories.player(promoter.workspace_id, "bor@example.com", "available", day=day + timedelta(days=1))
    factories.player(promoter.workspace_id, "cene@example.com", "available", day=day, opted_in=False)
    janas = night(promoter, day)
    bors = night(promoter, day + timedelta(days=1))
    rehearsal = night(factories.user("promoter", "Acme", email="p2@example.com"), day, dry_run=True)
    elsewhere = factories.user("promoter", "Other", email="other@example.com")
    factories.player(elsewhere.workspace_id, "jana-elsewhere@example.com", "available", day=day)
    night(elsewhere, day)
    ws = db.session.get(Workspace, promoter.workspace_id)

    assert set(events(parsed(client.get(subscribe(auth, "jana@example.com"))))) == {calendar_feed.uid(ws, janas)}
    assert set(events(parsed(client.get(subscribe(auth, "bor@example.com"))))) == {calendar_feed.uid(ws, bors)}
    assert events(parsed(client.get(subscribe(auth, "cene@example.com")))) == {}  # not opted in: never invited
    # The promoter's own nights are theirs too, a rehearsal (dry run) is nobody's.
    assert set(events(parsed(client.get(subscribe(auth, "promoter@example.com"))))) == {
        calendar_feed.uid(ws, janas), calendar_feed.uid(ws, bors)}
    assert calendar_feed.uid(ws, rehearsal) not in events(parsed(client.get(subscribe(auth, "p2@example.com"))))


def test_a_revoked_or_replaced_url_is_a_404_and_the_new_one_works(db, client, auth, promoter, factories):
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    old = subscribe(auth, "jana@example.com")
    new = subscribe(auth, "jana@example.com")  # "Make a new URL"

    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    revoked = auth.post("/profile/calendar/revoke")
    assert revoked.status_code == 303
    assert client.get(new).status_code == 404
    assert auth.post("/profile/calendar/revoke").status_code == 303  # nothing left to revoke: no error
    feeds = db.session.scalars(select(CalendarFeed).order_by(CalendarFeed.id)).all()
    assert len(feeds) == 2 and all(f.revoked_at is not None for f in feeds)
    assert [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.resource_type == "calendar_feed")
                                                  .order_by(AuditEvent.id))] == [
        "calendar_feed.created", "calendar_feed.created", "calendar_feed.revoked"]


@pytest.mark.parametrize("path", ["/calendar/pdcal_" + "A" * 43 + ".ics",  # well formed, nobody's
                                  "/calendar/pdcal_short.ics", "/calendar/" + "x" * 5000 + ".ics",
                                  "/calendar/%ED%A0%80.ics", "/calendar/pdp_" + "A" * 43 + ".ics"])
def test_an_unknown_or_malformed_token_is_a_404(client, path):
    assert client.get(path).status_code == 404


def test_a_member_who_left_the_workspace_has_no_feed_there(db, client, auth, promoter, factories):
    uid = member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    path = subscribe(auth, "jana@example.com")
    db.session.execute(delete(Membership).where(Membership.user_id == uid))
    db.session.commit()
    assert client.get(path).status_code == 404


def test_the_url_is_shown_once_stored_only_as_a_hash_and_never_logged(db, client, auth, promoter, factories,
                                                                     caplog):
    caplog.set_level(logging.DEBUG)
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    auth.login("jana@example.com")
    shown = auth.post("/profile/calendar")
    path = FEED_URL.search(shown.get_data(as_text=True)).group(1)
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    assert "no-store" in shown.headers["Cache-Control"]
    assert client.get(path).status_code == 200

    profile = client.get("/profile").get_data(as_text=True)
    assert token not in profile and token[:11] in profile  # the prefix tells it apart, nothing more
    feed = db.session.scalars(select(CalendarFeed)).one()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert feed.last_used_at is not None  # the profile says when a calendar app last fetched it
    for event in db.session.scalars(select(AuditEvent)):
        assert token not in repr(event.details)
    exported = client.get("/profile/export").get_data(as_text=True)
    assert token not in exported and feed.token_hash not in exported
    # The dev server's request line, as werkzeug logs it, and the app's own error line keep it out too.
    logging.getLogger("werkzeug").info('127.0.0.1 - - [x] "%s" %s %s', f"GET {path} HTTP/1.1", "200", "-")
    from flask import current_app

    current_app.logger.error("unhandled error on %s %s", "GET", path)
    assert "/calendar/[redacted].ics" in caplog.text
    assert token not in caplog.text


def test_the_export_lists_the_feeds_and_deleting_the_account_removes_them(db, client, auth, promoter, factories):
    uid = member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    old = subscribe(auth, "jana@example.com")
    path = subscribe(auth, "jana@example.com")
    client.get(path)

    exported = client.get("/profile/export").get_json()
    (acme,) = exported["workspaces"]
    assert [sorted(f) for f in acme["calendar_feeds"]] == [["created_at", "last_used_at", "prefix", "revoked_at"]] * 2
    assert acme["calendar_feeds"][0]["revoked_at"] is not None and acme["calendar_feeds"][1]["revoked_at"] is None
    assert acme["calendar_feeds"][1]["last_used_at"] is not None

    assert auth.post("/profile/delete", data={"confirm_email": "jana@example.com"}).status_code == 303
    assert db.session.get(User, uid) is None
    assert db.session.scalars(select(CalendarFeed)).all() == []
    assert client.get(path).status_code == 404 and client.get(old).status_code == 404


def test_the_profile_offers_a_url_then_its_state_and_revoke(client, auth, promoter, factories):
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    auth.login("jana@example.com")
    before = client.get("/profile").get_data(as_text=True)
    assert "Get a calendar URL" in before and "Revoke" not in before.split('id="calendar-feed"')[1].split("</article>")[0]
    auth.post("/profile/calendar")
    after = client.get("/profile").get_data(as_text=True).split('id="calendar-feed"')[1].split("</article>")[0]
    assert "Make a new URL" in after and "Revoke" in after and "not fetched yet" in after



def test_the_schema_allows_one_live_feed_per_member(db, promoter):
    from sqlalchemy.exc import IntegrityError

    calendar_feed.issue(promoter)
    db.session.add(CalendarFeed(workspace_id=promoter.workspace_id, user_id=promoter.user_id,
                                token_hash="0" * 64, prefix="pdcal_00000"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_availability_page_leads_members_to_their_calendar_url(client, auth, promoter, factories):
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    assert "#calendar-feed" not in client.get("/w/acme/availability").get_data(as_text=True)  # a visitor: no feed
    auth.login("jana@example.com")
    assert 'href="/profile#calendar-feed"' in client.get("/w/acme/availability").get_data(as_text=True)


def test_the_calendar_card_works_by_htmx_and_asks_before_replacing_or_revoking(client, auth, promoter, factories):
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    auth.login("jana@example.com")

    card = auth.post("/profile/calendar", htmx=True)
    html = card.get_data(as_text=True)
    assert card.status_code == 200 and "<html" not in html and "no-store" in card.headers["Cache-Control"]
    path = FEED_URL.search(html).group(1)
    assert 'hx-confirm="Make a new calendar URL?' in html and 'hx-confirm="Revoke your calendar URL?' in html

    revoked = auth.post("/profile/calendar/revoke", htmx=True)
    assert revoked.status_code == 200 and "<html" not in revoked.get_data(as_text=True)
    assert "no longer works" in revoked.headers["HX-Trigger"]
    assert "Get a calendar URL" in revoked.get_data(as_text=True)
    assert client.get(path).status_code == 404


def test_new_urls_asked_for_at_once_leave_one_live_url_and_answer_409_never_500(app, db, auth, promoter, factories):
    import threading

    from tests.conftest import Auth
    from tests.races import require_postgres

    require_postgres(db)
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    subscribe(auth, "jana@example.com")  # a live URL to replace
    racers = []
    for _ in range(6):  # each its own session and database connection, signed in before the barrier
        racer = Auth(app.test_client())
        racer.login("jana@example.com")
        racer.csrf  # noqa: B018 (fetched before the barrier)
        racers.append(racer)
    barrier, statuses = threading.Barrier(len(racers)), []

    def ask(racer: Auth) -> None:
        barrier.wait()
        statuses.append(racer.post("/profile/calendar").status_code)

    threads = [threading.Thread(target=ask, args=(r,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(statuses) == 6 and set(statuses) <= {200, 409} and 200 in statuses
    db.session.expire_all()
    live = db.session.scalars(select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None))).all()
    assert len(live) == 1
    created = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "calendar_feed.created")).all()
    assert len(created) == 1 + statuses.count(200)  # a refused one wrote nothing


# -- answers and weekly nights ------------------------------------------------------------------------


def test_a_member_who_cant_come_sees_the_night_as_free_time_and_another_members_feed_is_unchanged(
        db, client, auth, promoter, factories):
    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=3)
    jana = member(factories, promoter.workspace_id, "jana@example.com", day)
    marko = member(factories, promoter.workspace_id, "marko@example.com", day)
    campaign = night(promoter, day)
    janas, markos = subscribe(auth, "jana@example.com"), subscribe(auth, "marko@example.com")
    before, others = client.get(janas), client.get(markos)
    (uid, event), = events(parsed(before)).items()
    assert "TRANSP" not in event and str(event["SUMMARY"]) == "Game night · Acme"

    answered_at = utcnow().replace(microsecond=0) + timedelta(minutes=5)
    campaign_answers.answer(campaign, jana, AnswerCommand(answer="can't"), source="web", now=answered_at)
    after = client.get(janas, headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200  # changed for her: the old ETag no longer matches
    cant = events(parsed(after))[uid]
    assert str(cant["SUMMARY"]) == "Game night · Acme (you can't come)"
    assert str(cant["TRANSP"]) == "TRANSPARENT" and str(cant["STATUS"]) == "CONFIRMED"
    assert cant["SEQUENCE"] > event["SEQUENCE"]
    assert cant.decoded("DTSTAMP") == cant.decoded("LAST-MODIFIED") == answered_at > event.decoded("DTSTAMP")
    assert "can't come" in str(cant["DESCRIPTION"])
    unchanged = client.get(markos, headers={"If-None-Match": others.headers["ETag"]})
    assert unchanged.status_code == 304  # his feed is byte for byte what it was

    campaign_answers.answer(campaign, marko, AnswerCommand(answer="late 15"), source="web",
                            now=answered_at + timedelta(minutes=1))
    late = events(parsed(client.get(markos)))[uid]
    assert str(late["SUMMARY"]) == "Game night · Acme" and "TRANSP" not in late
    assert str(late["DESCRIPTION"]).startswith("You said you will be 15 minutes late.")
    assert late.decoded("LAST-MODIFIED") == answered_at + timedelta(minutes=1)


def weekly_from(promoter, days_ahead: int, **fields):
    """A weekly schedule on the weekday `days_ahead` local days from now (so two nights in the two weeks made
    ahead), at 21:00; the schedule and its first night."""
    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=days_ahead)
    schedule = schedules.create(promoter, ScheduleCommand(weekdays=[day.weekday()], start_time="21:00", **fields))
    first = next(n for n in schedule.nights if n.local_day == day)
    return schedule, first


def test_a_weekly_night_is_tentative_ahead_and_its_campaign_keeps_the_uid(db, client, auth, promoter, factories):
    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=4)
    member(factories, promoter.workspace_id, "jana@example.com", day)
    factories.player(promoter.workspace_id, "out@example.com", "available", day=day, opted_in=False)
    _, first = weekly_from(promoter, 4)
    ws = db.session.get(Workspace, promoter.workspace_id)
    path, outs = subscribe(auth, "jana@example.com"), subscribe(auth, "out@example.com")

    ahead = events(parsed(client.get(path)))
    assert len(ahead) == 2  # this week's and next week's
    tentative = ahead[calendar_feed.night_uid(ws, first)]
    assert str(tentative["STATUS"]) == "TENTATIVE" and tentative["SEQUENCE"] == 0
    start = tentative.decoded("DTSTART")
    assert (start.date(), start.hour, start.minute) == (day, 21, 0) and start.astimezone(UTC) == first.start_at
    assert "promotes it on" in str(tentative["DESCRIPTION"])
    assert events(parsed(client.get(outs))) == {}  # not opted in: no campaign would reach them

    # A run that committed the campaign and crashed before marking the night: already one event, confirmed.
    campaign, _ = campaigns.create(promoter, CampaignChoices(day=day.isoformat(), start_time="21:00"),
                                   idempotency_key=schedules.idempotency_key(first), now=first.create_at)
    midway = client.get(path)
    found = events(parsed(midway))
    assert len(found) == 2 and calendar_feed.uid(ws, campaign) == calendar_feed.night_uid(ws, first)
    confirmed = found[calendar_feed.night_uid(ws, first)]
    assert str(confirmed["STATUS"]) == "CONFIRMED" and confirmed["SEQUENCE"] > tentative["SEQUENCE"]
    assert confirmed.decoded("DTSTART") == tentative.decoded("DTSTART")

    assert schedules.run_night(first.id, now=first.create_at) == "created"
    assert db.session.get(ScheduledNight, first.id).campaign_id == campaign.id
    done = client.get(path, headers={"If-None-Match": midway.headers["ETag"]})
    assert done.status_code == 304  # the night's row changed, its event did not

    campaigns.cancel(promoter, campaign.id)
    called_off = events(parsed(client.get(path)))[calendar_feed.night_uid(ws, first)]
    assert str(called_off["STATUS"]) == "CANCELLED" and called_off["SEQUENCE"] > confirmed["SEQUENCE"]


def test_a_skipped_weekly_night_is_cancelled_and_a_paused_schedules_nights_leave_until_resumed(
        db, client, auth, promoter, factories):
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    schedule, first = weekly_from(promoter, 3)
    second = next(n for n in schedule.nights if n.local_day == first.local_day + timedelta(days=7))
    ws = db.session.get(Workspace, promoter.workspace_id)
    path = subscribe(auth, "jana@example.com")
    before = events(parsed(client.get(path)))

    assert schedules.skip(promoter, first.id).status is NightStatus.skipped
    skipped = events(parsed(client.get(path)))[calendar_feed.night_uid(ws, first)]
    assert str(skipped["STATUS"]) == "CANCELLED" and str(skipped["SUMMARY"]) == "Game night (cancelled) · Acme"
    assert skipped["SEQUENCE"] > before[calendar_feed.night_uid(ws, first)]["SEQUENCE"]
    finished = db.session.get(ScheduledNight, first.id).finished_at
    assert skipped.decoded("DTSTAMP") == skipped.decoded("LAST-MODIFIED") == finished.replace(microsecond=0)
    assert "skipped" in str(skipped["DESCRIPTION"])

    schedules.set_paused(promoter, schedule.id, True)
    paused = events(parsed(client.get(path)))
    assert set(paused) == {calendar_feed.night_uid(ws, first)}  # the pending night is not shown meanwhile
    schedules.set_paused(promoter, schedule.id, False)
    resumed = events(parsed(client.get(path)))
    assert str(resumed[calendar_feed.night_uid(ws, second)]["STATUS"]) == "TENTATIVE"
    assert db.session.scalar(select(Campaign.id)) is None


def test_a_weekly_night_ahead_follows_a_change_of_the_workspaces_zone_as_its_campaign_will(
        db, client, auth, promoter, factories):
    member(factories, promoter.workspace_id, "jana@example.com", utcnow().astimezone(LJUBLJANA).date())
    _, first = weekly_from(promoter, 5)
    ws = db.session.get(Workspace, promoter.workspace_id)
    ws.time_zone = "Asia/Tokyo"  # after the night was added in Ljubljana's time
    db.session.commit()

    tentative = events(parsed(client.get(subscribe(auth, "jana@example.com"))))[calendar_feed.night_uid(ws, first)]

    start = tentative.decoded("DTSTART")
    assert tentative["DTSTART"].params["TZID"] == "Asia/Tokyo" and (start.date(), start.hour) == (first.local_day, 21)
    assert start.astimezone(UTC) != first.start_at  # the row still holds Ljubljana's 21:00 until its run
