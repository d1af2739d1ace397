"""Game nights in the dashboard: the availability page (public counts, names and one-click statuses for
linked members), the profile page (player, preferences, linking, the calendar feed), the calendar feed itself
and the admins' settings."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from webapp.accounts import privacy
from webapp.accounts import services as accounts
from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.models import Role, Workspace
from webapp.accounts.services import Actor
from webapp.commands import from_form
from webapp.errors import DomainError, NotFound
from webapp.extensions import login_manager
from webapp.gamenight import availability as statuses
from webapp.gamenight import calendar_feed as feeds
from webapp.gamenight import (
    campaign_answers,
    campaign_copy,
    campaign_plans,
    campaign_report,
    campaign_runs,
    campaigns,
    night_settings,
    planning_rooms,
    planning_settings,
    players,
)
from webapp.gamenight.models import Campaign, Status
from webapp.htmx import is_htmx, no_store, redirect_after_post, render, render_page, toast_or_redirect
from webapp.notify import contacts
from webapp.notify import services as preferences
from webapp.notify.models import Channel

bp = Blueprint("gamenight", __name__)  # the availability page is public (counts only)
members = Blueprint("gamenight_members", __name__)  # everything else needs a sign-in
signed_in_only(members)


@bp.context_processor
@members.context_processor
def _helpers() -> dict[str, Any]:
    return {"Status": Status, "Role": Role, "Channel": Channel}


def _viewer(ws: Workspace) -> tuple[int | None, bool]:
    """(user id, is a member of ws) for whoever is looking."""
    if not current_user.is_authenticated:
        return None, False
    return current_user.id, accounts.membership(current_user.id, ws.id) is not None


# -- availability -------------------------------------------------------------------------------


@members.get("/availability")
def my_availability() -> Response:
    actor = current_actor()
    return redirect(url_for("gamenight.availability", slug=night_settings.workspace(actor.workspace_id).slug))


def _page(ws: Workspace, status: int = 200, message: str | None = None) -> Response:
    viewer, member = _viewer(ws)
    view = statuses.overview(ws, viewer, member=member)
    game = night_settings.settings(ws.id)
    return render_page("gamenight/availability.html", "panels", status, ws=ws, view=view, game=game,
                       message=message, room=planning_rooms.view(ws, viewer) if member else None)


@bp.get("/w/<slug>/availability")
def availability(slug: str) -> Response:
    return _page(accounts.workspace_by_slug(slug))


@bp.post("/w/<slug>/availability")
def set_availability(slug: str) -> Any:
    """One click sets (or, clicking the current status again, clears) the member's status for a date."""
    ws = accounts.workspace_by_slug(slug)
    viewer, member = _viewer(ws)
    if viewer is None:
        return login_manager.unauthorized()
    if not member:
        raise NotFound("No such workspace.")
    command = from_form(statuses.StatusCommand)
    day = statuses.resolve_day(ws, command.day)
    try:
        statuses.set_status(ws.id, viewer, day, command.status, actor_label=current_user.email)
    except DomainError as exc:
        if not is_htmx():
            raise
        return _page(ws, exc.status, exc.message)
    if not is_htmx():
        return redirect(url_for(".availability", slug=slug), code=303)
    return _page(ws)


@bp.get("/w/<slug>/availability/calendar")
def calendar(slug: str) -> Response:
    ws = accounts.workspace_by_slug(slug)
    viewer, member = _viewer(ws)
    linked = member and players.is_linked(ws.id, viewer)
    return render_page("gamenight/calendar.html", "calendar", ws=ws,
                       month=statuses.month(ws, request.args.get("month"), viewer, linked=linked), linked=linked)


# -- profile ------------------------------------------------------------------------------------


def _profile_page(status: int = 200, block: str | None = None, **context: Any) -> Response:
    actor = current_actor()
    assert actor.user_id is not None
    context.setdefault("error", None)
    context.setdefault("code", None)
    context.setdefault("calendar_url", None)
    context.setdefault("calendar_error", None)
    return render("gamenight/profile.html", block, status=status, player=players.profile(actor.workspace_id, actor.user_id),
                  pref=preferences.preference(actor.workspace_id, actor.user_id),
                  contacts=contacts.contacts(actor.workspace_id, actor.user_id),
                  linked=players.is_linked(actor.workspace_id, actor.user_id),
                  feed=feeds.live_feed(actor.workspace_id, actor.user_id),
                  ws=night_settings.workspace(actor.workspace_id), **context)


def _refused(page: Callable[..., Response], exc: DomainError) -> Response:
    """The page again with the refusal, its status and its headers (a 429's `Retry-After`)."""
    response = page(exc.status, error=exc)
    response.headers.update(exc.headers)
    return response


def _form_post(save: Callable[[], Any], page: Callable[..., Response], done: Callable[[Any], str], target: str) -> Any:
    """A form post: on success a flash of `done(result)` and a 303 to `target`; else the page again with the
    error (its 4xx status) and nothing saved."""
    try:
        result = save()
    except DomainError as exc:
        return _refused(page, exc)
    flash(done(result), "success")
    return redirect(url_for(target), code=303)


@members.get("/profile")
def profile() -> Response:
    return _profile_page()


@members.post("/profile/player")
def save_player() -> Any:
    return _form_post(lambda: players.save_profile(current_actor(), from_form(players.PlayerCommand)),
                      _profile_page, lambda _: "Player profile saved.", ".profile")


@members.post("/profile/preferences")
def save_preferences() -> Any:
    return _form_post(lambda: preferences.update_preferences(current_actor(),
                                                             from_form(preferences.PreferencesCommand)),
                      _profile_page, lambda _: "Preferences saved.", ".profile")


@members.post("/profile/link-code")
def link_code() -> Response:
    try:
        code, expires = players.new_link_code(current_actor())
    except DomainError as exc:
        return _refused(_profile_page, exc)
    return no_store(_profile_page(code=code, code_expires=expires))


@members.post("/profile/email")
def add_email() -> Any:
    return _form_post(lambda: contacts.request_email(current_actor(), from_form(contacts.EmailCommand).email), _profile_page,
                      lambda contact: f"We mailed a confirmation link to {contact.external_id}; open it to start "
                                      "receiving messages there.", ".profile")


@members.post("/profile/calendar")
def new_calendar_feed() -> Response:
    """A new private calendar URL, shown once in the profile's calendar card (htmx) or page; the member's
    previous one stops working."""
    try:
        _, token = feeds.issue(current_actor())
    except DomainError as exc:
        return _profile_page(exc.status, "calendar_feed", calendar_error=exc.message)
    return no_store(_profile_page(block="calendar_feed", calendar_url=feeds.feed_url(token)))


@members.post("/profile/calendar/revoke")
def revoke_calendar_feed() -> Response:
    revoked = feeds.revoke(current_actor())
    return toast_or_redirect(lambda: _profile_page(block="calendar_feed"),
                             "Your calendar URL no longer works; calendar apps subscribed to it stop updating."
                             if revoked else "You have no calendar URL to revoke.", url_for(".profile"), code=303)


@bp.get("/calendar/<feed_token>.ics")
def calendar_feed(feed_token: str) -> Response:
    """The member's game nights for their calendar app: no sign-in, the token in the URL is the key. A 404 for a
    token that is unknown or revoked; a 304 when the ETag still matches."""
    doc = feeds.document(feed_token)
    response = Response(doc.body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{doc.filename}"'
    # Revalidate every time (a 304 is cheap), and no shared cache: the URL is someone's secret.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.set_etag(doc.etag)
    return response.make_conditional(request)


@bp.get("/contacts/email/confirm/<token>")
def email_confirm_page(token: str) -> Response:
    """A page with a button, not a confirming GET: mail scanners open links, people press buttons."""
    contact = contacts.email_contact_for(token)
    return render("gamenight/email_confirm.html", token=token, address=contact.external_id,
                  confirmed=contact.confirmed_at is not None)


@bp.post("/contacts/email/confirm/<token>")
def email_confirm(token: str) -> Response:
    contact = contacts.confirm_email(token)
    return render("gamenight/email_confirm.html", token=token, address=contact.external_id, confirmed=True)


@members.post("/profile/contacts/<int:contact_id>/unlink")
def unlink(contact_id: int) -> Any:
    contact = contacts.unlink(current_actor(), contact_id)
    flash(f"Your {contact.channel.value} account is unlinked.", "success")
    return redirect(url_for(".profile"), code=303)


@members.get("/profile/export")
def export_my_data() -> Response:
    """The "Download my data" link: everything about the signed-in member, as a JSON attachment."""
    data = privacy.export(current_user.id)
    response = Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=promotion-desk-{data['exported_at'][:10]}.json")
    return no_store(response)


def _delete_and_sign_out() -> None:
    privacy.delete_account(current_user.id, request.form.get("confirm_email"))
    logout_user()
    session.clear()  # the flash below lands in a fresh session


@members.post("/profile/delete")
def delete_account() -> Any:
    """The "Delete my account" form: on success signed out and sent to the login page; else the profile
    page again with the error, nothing deleted."""
    return _form_post(_delete_and_sign_out, _profile_page, lambda _: "Your account was deleted.", "accounts.login")


# -- settings (admins) --------------------------------------------------------------------------


def _settings_page(status: int = 200, **context: Any) -> Response:
    actor = current_actor()
    actor.require(Role.admin, "change the game-night settings")
    context.setdefault("error", None)
    context.setdefault("bot_token", None)
    return render("gamenight/settings.html", status=status, ws=night_settings.workspace(actor.workspace_id),
                  game=night_settings.settings(actor.workspace_id), **context)


@members.get("/settings/gamenight")
def settings() -> Response:
    return _settings_page()


@members.post("/settings/gamenight")
def save_settings() -> Any:
    return _form_post(lambda: night_settings.update_settings(current_actor(),
                                                             from_form(night_settings.SettingsCommand)),
                      _settings_page, lambda _: "Game-night settings saved.", ".settings")


@members.post("/settings/gamenight/bot-token")
def rotate_bot_token() -> Response:
    token = night_settings.rotate_bot_token(current_actor())
    return no_store(_settings_page(bot_token=token))


@members.post("/settings/gamenight/summary-channel")
def save_summary_channel() -> Any:
    return _form_post(lambda: night_settings.set_summary_target(current_actor(),
                                                                from_form(night_settings.SummaryChannelCommand)),
                      _settings_page, lambda _: "Summary channel saved.", ".settings")


@members.post("/settings/gamenight/planning")
def save_planning_settings() -> Any:
    return _form_post(lambda: planning_settings.save(current_actor(), from_form(planning_settings.PlanningSettingsCommand)),
                      _settings_page, lambda _: "Planning room settings saved.", ".settings")


# -- campaigns ----------------------------------------------------------------------------------


@members.get("/campaigns")
def campaign_list() -> Response:
    actor = current_actor()
    ws = night_settings.workspace(actor.workspace_id)
    recent = campaigns.recent(actor)
    return render("gamenight/campaigns.html", ws=ws, game=night_settings.settings(ws.id), actor=actor,
                  today=night_settings.local_today(ws), campaigns=recent,
                  recipients=campaign_report.recipient_counts([c.id for c in recent]))


def _promote_dialog(status: int = 200, **context: Any) -> Response:
    context.setdefault("plan", None)
    context.setdefault("message", None)
    return render("gamenight/promote.html", "dialog", status=status, **context)


@members.get("/campaigns/preview")
def campaign_preview() -> Response:
    """The promote-tonight dialog: who would be told and when (counts and channels, never a handle)."""
    try:
        plan = campaign_plans.preview(current_actor(), campaign_plans.CampaignChoices.of_form(request.args))
    except DomainError as exc:
        return _promote_dialog(exc.status, message=exc.message)
    return no_store(_promote_dialog(plan=plan, dry_run=request.args.get("dry_run") == "on",
                                    idempotency_key=secrets.token_urlsafe(16)))


@members.post("/campaigns")
def create_campaign() -> Any:
    try:
        campaign, _ = campaigns.create(current_actor(), campaign_plans.CampaignChoices.of_form(request.form),
                                       idempotency_key=request.form.get("idempotency_key"))
    except DomainError as exc:
        return _promote_dialog(exc.status, message=exc.message)
    flash("Game night promoted: the reminders are scheduled." if not campaign.dry_run
          else "Dry run scheduled: it will compute and log, and send nothing.", "success")
    return redirect_after_post(url_for(".campaign", campaign_id=campaign.id))


@members.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int) -> Response:
    """The timeline; an htmx poll asks for the `timeline` block alone while the campaign is active."""
    actor = current_actor()
    found = campaigns.get(actor, campaign_id)
    ws = night_settings.workspace(actor.workspace_id)
    return render_page("gamenight/campaign.html", "timeline", ws=ws, actor=actor, campaign=found,
                       recipients=campaign_report.recipient_counts([found.id])[found.id],
                       active=campaigns.is_active(found), poll=campaigns.poll_seconds(found),
                       counts=campaign_report.outcome_counts(found), answers=campaign_report.answers(found),
                       answer_counts=campaign_report.answer_counts(found.id),
                       channels=campaign_report.channel_counts(found), log=campaign_report.send_log(found))


def _cancel_dialog(campaign_id: int, status: int = 200, **context: Any) -> Response:
    context.setdefault("campaign", None)
    context.setdefault("message", None)
    return render("gamenight/cancel.html", "dialog", status=status, campaign_id=campaign_id, **context)


def _cancelling(campaign_id: int, step: Callable[[Actor, int], Campaign]) -> Campaign | Response:
    """`step`'s campaign, or the dialog again with why the campaign cannot be cancelled."""
    try:
        return step(current_actor(), campaign_id)
    except DomainError as exc:
        return _cancel_dialog(campaign_id, exc.status, message=exc.message)


@members.get("/campaigns/<int:campaign_id>/cancel")
def cancel_campaign_dialog(campaign_id: int) -> Response:
    """The confirm dialog: what cancelling stops, or why the campaign cannot be cancelled."""
    found = _cancelling(campaign_id, campaigns.cancellable)
    if isinstance(found, Response):
        return found
    return _cancel_dialog(campaign_id, campaign=found,
                          recipients=campaign_report.recipient_counts([found.id])[found.id])


@members.post("/campaigns/<int:campaign_id>/cancel")
def cancel_campaign(campaign_id: int) -> Any:
    found = _cancelling(campaign_id, campaigns.cancel)
    if isinstance(found, Response):
        return found
    flash("Campaign cancelled: its pending jobs will not run.", "success")
    return redirect_after_post(url_for(".campaign", campaign_id=found.id))


@members.get("/campaigns/<int:campaign_id>/call-off")
def call_off_campaign_dialog(campaign_id: int) -> Response:
    """The confirm dialog of calling the night off: cancelled, and every recipient told once."""
    found = _cancelling(campaign_id, campaigns.cancellable)
    if isinstance(found, Response):
        return found
    return _cancel_dialog(campaign_id, campaign=found, call_off=True,
                          recipients=campaign_report.recipient_counts([found.id])[found.id])


@members.post("/campaigns/<int:campaign_id>/call-off")
def call_off_campaign(campaign_id: int) -> Any:
    found = _cancelling(campaign_id, lambda actor, cid: campaigns.call_off(actor, cid)[0])
    if isinstance(found, Response):
        return found
    flash("Called off: every recipient gets one message saying so.", "success")
    return redirect_after_post(url_for(".campaign", campaign_id=found.id))


# -- answering a reminder, calling a night off (signed links from the messages) ------------------


def _answer_page(token: str, status: int = 200, **context: Any) -> Response:
    campaign, user_id = campaign_answers.campaign_for_link(token)
    ws = night_settings.workspace(campaign.workspace_id)
    context.setdefault("message", None)
    return no_store(render("gamenight/answer.html", status=status, token=token, campaign=campaign, ws=ws,
                           start=campaign_copy.local_clock(campaign.start_at, ws.zone),
                           mine=campaign_answers.current(campaign.id, user_id),
                           asked=request.args.get("answer", "")[:20], **context))


@bp.get("/gamenight/answer/<token>")
def answer_page(token: str) -> Response:
    """The reminder's link: the recipient's buttons (a page, not an answering GET: chat apps open links)."""
    return _answer_page(token)


@bp.post("/gamenight/answer/<token>")
def answer(token: str) -> Response:
    campaign, user_id = campaign_answers.campaign_for_link(token)
    try:
        done = campaign_answers.answer(campaign, user_id, from_form(campaign_answers.AnswerCommand), source="web")
    except DomainError as exc:
        return _answer_page(token, exc.status, message=exc.message)
    return _answer_page(token, answered=done)


def _call_off_page(token: str, status: int = 200, **context: Any) -> Response:
    _, campaign = campaigns.call_off_for_link(token)
    ws = night_settings.workspace(campaign.workspace_id)
    context.setdefault("message", None)
    return no_store(render("gamenight/call_off.html", status=status, token=token, campaign=campaign, ws=ws,
                           start=campaign_copy.local_clock(campaign.start_at, ws.zone),
                           recipients=campaign_report.recipient_counts([campaign.id])[campaign.id],
                           coming=campaign_runs.still_coming(campaign), **context))


@bp.get("/gamenight/call-off/<token>")
def call_off_page(token: str) -> Response:
    """The quorum warning's link: one button that calls the night off (the tap is the POST)."""
    return _call_off_page(token)


@bp.post("/gamenight/call-off/<token>")
def call_off(token: str) -> Response:
    actor, campaign = campaigns.call_off_for_link(token)
    try:
        _, now = campaigns.call_off(actor, campaign.id)
    except DomainError as exc:
        return _call_off_page(token, exc.status, message=exc.message)
    return _call_off_page(token, called_off_now=now)
