"""Campaigns in the dashboard: the promote-tonight dialog and the campaign page (roles, CSRF, the send log)
and the summary channel setting."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.gamenight.steps import SECRET_TARGET, assert_no_handle, body, soon
from webapp.gamenight import campaign_runs, campaigns
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignStatus, GamenightSettings

# -- the dashboard ----------------------------------------------------------------------------------


def test_promoter_previews_in_the_dialog_confirms_and_lands_on_the_timeline(auth, promoter, members, db):
    auth.login("promoter@example.com")
    when = soon()
    page = auth.get("/campaigns").get_data(as_text=True)
    assert "Promote tonight" in page
    dialog = auth.get(f"/campaigns/preview?statuses=available&statuses=looking&date={when['day']}"
                      f"&start_time={when['start_time']}", htmx=True)
    text = dialog.get_data(as_text=True)
    assert dialog.status_code == 200 and '<strong class="recipient-count">3</strong>' in text
    assert "3 by discord" in text and "<html" not in text
    assert_no_handle(text)
    key = text.split('name="idempotency_key" value="', 1)[1].split('"', 1)[0]
    form = {"idempotency_key": key, "date": when["day"], "start_time": when["start_time"], "lead_minutes": "15",
            "statuses": ["available", "looking"]}
    confirmed = auth.post("/campaigns", htmx=True, data=form)
    assert confirmed.status_code == 204
    campaign = db.session.scalar(select(Campaign))
    assert confirmed.headers["HX-Redirect"] == f"/campaigns/{campaign.id}"
    assert auth.post("/campaigns", htmx=True, data=form).status_code == 204  # a double click: the same campaign
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    timeline = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in timeline and "Reminder" in timeline and "Ready-check" in timeline
    fragment = auth.get(f"/campaigns/{campaign.id}", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="campaign-timeline"')
    auth.post(f"/campaigns/{campaign.id}/cancel")
    finished = auth.get(f"/campaigns/{campaign.id}", htmx=True).get_data(as_text=True)
    assert "every 2s" not in finished and "cancelled" in finished  # polling stops once it is over


def test_the_dialog_shows_why_it_cannot_promote(auth, promoter, members):
    auth.login("promoter@example.com")
    answer = auth.get("/campaigns/preview?statuses=available&date=2020-01-01&start_time=21:00", htmx=True)
    assert answer.status_code == 422 and "has passed" in answer.get_data(as_text=True)


def test_a_viewer_sees_campaigns_but_cannot_promote(auth, factories, promoter, members):
    factories.user("viewer", "Acme", email="viewer@example.com")
    auth.login("viewer@example.com")
    assert "Promote tonight" not in auth.get("/campaigns").get_data(as_text=True)
    assert auth.get("/campaigns/preview?statuses=available", htmx=True).status_code == 403
    assert auth.post("/campaigns", data=body()).status_code == 403


def test_creating_a_campaign_without_the_csrf_token_is_refused(client, auth, promoter, members, db):
    auth.login("promoter@example.com")
    answer = client.post("/campaigns", data={"statuses": "available"})
    assert answer.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_send_log_names_members_and_channels_never_targets(auth, promoter, members, db, factories):
    from tests.sink import Sink

    with Sink() as sink:
        extra = factories.player(promoter.workspace_id, "extra@example.com", target=sink.target("x"), name="Xena")
        campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
        reminder = campaign.jobs[0]
        campaign_runs.run_job(reminder.id, now=reminder.run_at)
    assert extra
    auth.login("promoter@example.com")
    page = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Xena" in page and "sent" in page
    assert "127.0.0.1" not in page and "relay.example" not in page


# -- the summary channel ----------------------------------------------------------------------------


def test_admin_sets_the_summary_channel_which_is_shown_masked(auth, factories, db):
    factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    saved = auth.post("/settings/gamenight/summary-channel", data={"summary_target": SECRET_TARGET},
                      follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Summary channel saved" in text and "json://…4821" in text and "relay.example" not in text
    row = db.session.scalar(select(GamenightSettings))
    assert row.summary_target_sealed and "relay" not in row.summary_target_sealed


def test_a_bad_summary_channel_is_a_400_and_keeps_the_old_one(auth, factories, db):
    factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    auth.post("/settings/gamenight/summary-channel", data={"summary_target": SECRET_TARGET})
    answer = auth.post("/settings/gamenight/summary-channel", data={"summary_target": "https://example.com/x"})
    assert answer.status_code == 400 and "Apprise URL" in answer.get_data(as_text=True)
    assert db.session.scalar(select(GamenightSettings.summary_target_hint)) == "json://…4821"


def test_only_admins_change_game_night_settings_or_the_summary_channel(auth, factories, db, promoter):
    auth.login("promoter@example.com")
    assert auth.post("/settings/gamenight", data={"time_zone": "UTC", "game_start": "20:00",
                                                  "lead_minutes": "10"}).status_code == 403
    assert auth.post("/settings/gamenight/summary-channel",
                     data={"summary_target": SECRET_TARGET}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(GamenightSettings)) == 0


# -- a campaign of the day, cancelling, status colours -----------------------------------------------


def _preview(auth, when):
    return auth.get(f"/campaigns/preview?statuses=available&date={when['day']}&start_time={when['start_time']}",
                    htmx=True)


def test_the_preview_warns_of_the_days_campaign_and_offers_to_open_it(auth, promoter, members, db):
    auth.login("promoter@example.com")
    when = soon()
    assert "already promoted" not in _preview(auth, when).get_data(as_text=True)
    campaign, _ = campaigns.create(promoter, CampaignChoices(**when))
    text = _preview(auth, when).get_data(as_text=True)
    assert "You already promoted a game night for" in text and "cancel it to promote" in text
    assert f'href="/campaigns/{campaign.id}">Open it</a>' in text
    assert 'disabled title="You already promoted a game night for this day"' in text
    campaign.status = CampaignStatus.sent  # over: the warning says so, as the 409 would
    db.session.commit()
    text = _preview(auth, when).get_data(as_text=True)
    assert "it is over (sent)" in text and "cancel it" not in text


def test_cancel_asks_in_the_shared_dialog_what_it_stops_then_cancels(auth, promoter, members, db):
    auth.login("promoter@example.com")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    page = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'hx-get="/campaigns/{campaign.id}/cancel"' in page  # the button opens the dialog, it posts nothing
    dialog = auth.get(f"/campaigns/{campaign.id}/cancel", htmx=True)
    text = dialog.get_data(as_text=True)
    assert dialog.status_code == 200 and 'id="dialog-title">Cancel the game night of' in text
    assert "3 recipients will get nothing more" in text and text.count("will not run") == 3
    assert db.session.get(Campaign, campaign.id).status.value == "scheduled"  # opening it changed nothing
    done = auth.post(f"/campaigns/{campaign.id}/cancel", htmx=True)
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/campaigns/{campaign.id}"
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status.value == "cancelled"
    again = auth.get(f"/campaigns/{campaign.id}/cancel", htmx=True)
    assert again.status_code == 409 and "only a scheduled or sending one can be cancelled" in again.get_data(as_text=True)
    assert auth.post(f"/campaigns/{campaign.id}/cancel", htmx=True).status_code == 409


def test_status_badges_carry_their_status_for_colour(auth, promoter, members, db):
    auth.login("promoter@example.com")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    page = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'class="badge status-scheduled" id="campaign-status"' in page
    assert page.count("badge job-status status-scheduled") == 3
    assert 'class="badge status-scheduled"' in auth.get("/campaigns").get_data(as_text=True)
    css = auth.get("/static/app.css").get_data(as_text=True)
    for status in ("scheduled", "sending", "sent", "partial", "failed", "cancelled"):
        assert f".badge.status-{status}" in css
