"""Players hear about new areas: the text for every direction, the settings (sealed, masked, admins), and the
announcement through the outbox — once, retried when refused, given up, `unknown` when the channel stalls,
off, cancelled by a return to the sandbox, shown on the project page."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from webapp.errors import BadRequest, Forbidden, Invalid
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.worlds import announcements, promotion, unpromotion
from webapp.worlds.directions import DIRECTIONS
from webapp.worlds.models import AnnouncementStatus, AreaAnnouncement, WorldSettings


@pytest.mark.parametrize(("direction", "text"), [
    ("north", "The Old Mill is open, north of Village square."),
    ("south", "The Old Mill is open, south of Village square."),
    ("east", "The Old Mill is open, east of Village square."),
    ("west", "The Old Mill is open, west of Village square."),
    ("northeast", "The Old Mill is open, northeast of Village square."),
    ("northwest", "The Old Mill is open, northwest of Village square."),
    ("southeast", "The Old Mill is open, southeast of Village square."),
    ("southwest", "The Old Mill is open, southwest of Village square."),
    ("up", "The Old Mill is open, up from Village square."),
    ("down", "The Old Mill is open, down from Village square."),
    ("in", "The Old Mill is open, in from Village square."),
    ("out", "The Old Mill is open, out from Village square."),
])
def test_the_announcement_reads_as_english_for_every_direction(direction, text):
    assert announcements.announcement_text("The Old Mill", DIRECTIONS[direction], "Village square") == text


def test_all_twelve_directions_are_covered():
    assert len(DIRECTIONS) == 12


# -- the settings -----------------------------------------------------------------------------------


def _announcing(admin, target: str) -> None:
    announcements.save_settings(admin, announcements.WorldSettingsCommand(announce_new_areas=True,
                                                                          announcement_target=target))


def test_the_channel_is_stored_sealed_shown_masked_and_the_change_audited(factories, db):
    from webapp.audit.models import AuditEvent

    admin = factories.user("admin", "Acme")
    _announcing(admin, "discord://1234567890/secret-webhook-token")
    row = db.session.get(WorldSettings, admin.workspace_id)
    assert row.announce_new_areas and "secret-webhook-token" not in row.announcement_target_sealed
    assert row.announcement_target_hint == "discord://…oken"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "world.settings_updated")).one()
    assert event.details == {"announce_new_areas": True, "announcement": "discord://…oken"}
    # left empty the channel stays; unticked, announcing stops; ticking "forget" clears it
    announcements.save_settings(admin, announcements.WorldSettingsCommand(announce_new_areas=False))
    assert db.session.get(WorldSettings, admin.workspace_id).announcement_target_hint == "discord://…oken"
    announcements.save_settings(admin, announcements.WorldSettingsCommand(clear_announcement_target=True))
    assert db.session.get(WorldSettings, admin.workspace_id).announcement_target_sealed is None


def test_announcing_without_a_channel_is_a_422_and_a_bad_url_a_400_and_nothing_is_saved(factories, db):
    admin = factories.user("admin", "Acme")
    with pytest.raises(Invalid) as caught:
        announcements.save_settings(admin, announcements.WorldSettingsCommand(announce_new_areas=True))
    assert caught.value.status == 422 and "announcement_target" in caught.value.details
    with pytest.raises(BadRequest, match="Apprise URL"):
        _announcing(admin, "https://example.com/hook")
    db.session.rollback()
    assert db.session.get(WorldSettings, admin.workspace_id) is None


def test_only_admins_change_or_read_the_settings(factories):
    for role in ("viewer", "editor", "promoter"):
        actor = factories.user(role, "Acme")
        with pytest.raises(Forbidden):
            announcements.read_settings(actor)
        with pytest.raises(Forbidden):
            _announcing(actor, "json://127.0.0.1/x")


def test_the_settings_page_saves_the_checkbox_and_never_shows_the_url(auth, factories, db):
    factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    assert auth.get("/world/settings").status_code == 200
    answer = auth.post("/world/settings", data={"announce_new_areas": "on",
                                               "announcement_target": "tgram://bot123:abc/-1009999"})
    assert answer.status_code == 303
    page = auth.get("/world/settings").get_data(as_text=True)
    assert "bot123" not in page and "tgram://…9999" in page and 'name="announce_new_areas" role="switch" checked' in page
    refused = auth.post("/world/settings", data={"announce_new_areas": "on", "announcement_target": "ftp://x/y"})
    assert refused.status_code == 400 and "Apprise URL" in refused.get_data(as_text=True)
    cleared = auth.post("/world/settings", data={"announce_new_areas": "on", "clear_announcement_target": "on"})
    assert cleared.status_code == 422 and "required to announce new areas" in cleared.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WorldSettings, 1).announcement_target_hint == "tgram://…9999"


# -- the announcement ---------------------------------------------------------------------------------


def _promote(factories, target: str | None, direction: str = "north"):
    admin = factories.user("admin", "Acme")
    if target:
        _announcing(admin, target)
    square = factories.live_room(admin, "square", "Village square")
    project = factories.build_project(admin, name="The Old Mill")
    return admin, project, promotion.promote(admin, project.id, square.id, direction)


def _row(db, announcement_id: int) -> AreaAnnouncement:
    db.session.expire_all()
    return db.session.get(AreaAnnouncement, announcement_id)


def test_a_promotion_announces_the_new_area_once_through_the_outbox(factories, db, worker, sink):
    _admin, _project, result = _promote(factories, sink.target("news"), "up")
    assert result.announcement.text == "The Old Mill is open, up from Village square."
    assert result.as_json()["announcement"]["status"] == "pending"
    worker()
    [post] = sink.received("news")
    assert post["message"] == "The Old Mill is open, up from Village square."
    assert post["key"] == f"area:{result.announcement.id}:announce"
    row = _row(db, result.announcement.id)
    assert row.status is AnnouncementStatus.sent and row.sent_at is not None
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == announcements.ANNOUNCE_EFFECT)).one()
    assert effect.payload == {"announcement_id": row.id}  # an id: the target is never in a job
    # the same effect again (a duplicate job, the reconciler, a retry from the Jobs page) posts nothing more
    effect.status = EffectStatus.pending
    db.session.commit()
    assert outbox.run_effect(effect.id) == "done"
    outbox.reconcile()
    worker()
    assert sink.count() == 1


def test_a_refused_announcement_is_shown_retried_and_sent_once(factories, db, worker, sink, app, monkeypatch, auth):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], OUTBOX_MAX_ATTEMPTS=3))
    sink.failing.add("news")
    admin, project, result = _promote(factories, sink.target("news"))
    worker()
    row = _row(db, result.announcement.id)
    assert row.status is AnnouncementStatus.retrying and "did not reach" in row.error
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == announcements.ANNOUNCE_EFFECT)).one()
    assert effect.status is EffectStatus.pending and effect.attempts == 1  # a retry is scheduled
    sink.failing.clear()
    assert outbox.run_effect(effect.id) == "done"  # the retry (RQ runs it at its back-off time)
    assert _row(db, row.id).status is AnnouncementStatus.sent and sink.count() == 1
    auth.login(admin.label)
    page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert "The Old Mill is open, north of Village square." in page and "— posted" in page


def test_an_announcement_that_runs_out_of_attempts_says_it_gave_up(factories, db, worker, sink, app, monkeypatch,
                                                                   auth):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], OUTBOX_MAX_ATTEMPTS=1))
    sink.failing.add("news")
    admin, project, result = _promote(factories, sink.target("news"))
    worker()
    assert _row(db, result.announcement.id).status is AnnouncementStatus.failed
    assert db.session.scalars(select(OutboxEffect.status).where(
        OutboxEffect.kind == announcements.ANNOUNCE_EFFECT)).one() is EffectStatus.failed
    auth.login(admin.label)
    assert "gave up" in auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert sink.count() == 0


def test_an_announcement_whose_channel_takes_it_and_stalls_is_unknown_and_never_posted_again(
        factories, db, worker, sink, app, monkeypatch, auth):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], DELIVERY_TIMEOUT_SECONDS=0.5))
    sink.stalling.add("news")
    admin, project, result = _promote(factories, sink.target("news"))
    worker()
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == announcements.ANNOUNCE_EFFECT)).one()
    db.session.refresh(effect)
    assert effect.status is EffectStatus.unknown
    row = _row(db, result.announcement.id)
    assert row.status is AnnouncementStatus.unknown and "may have reached" in row.error
    sink.stalling.clear()
    outbox.reconcile()
    assert outbox.run_effect(effect.id) == "unknown"
    effect = db.session.get(OutboxEffect, effect.id)
    effect.status = EffectStatus.pending  # even a forced re-run finds the row settled
    db.session.commit()
    assert outbox.run_effect(effect.id) == "done"
    assert len(sink.received("news")) == 1
    auth.login(admin.label)
    assert "not posted again" in auth.get(f"/builds/{project.id}").get_data(as_text=True)


def test_without_announcements_a_promotion_writes_none_and_the_dialog_promises_none(factories, db, auth):
    _admin, _project, result = _promote(factories, None)
    assert result.announcement is None
    assert db.session.scalar(select(func.count()).select_from(AreaAnnouncement)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxEffect)
                             .where(OutboxEffect.kind == announcements.ANNOUNCE_EFFECT)) == 0


def test_the_promote_dialog_shows_what_players_will_be_told(factories, auth, sink):
    admin = factories.user("admin", "Acme", email="boss@example.com")
    _announcing(admin, sink.target("news"))
    square = factories.live_room(admin, "square", "Village square")
    project = factories.build_project(admin, name="The Old Mill")
    preview = promotion.promotion_preview(admin, project.id, square.id, "ne")
    assert preview.as_json()["announcement"] == "The Old Mill is open, northeast of Village square."
    auth.login("boss@example.com")
    dialog = auth.get(f"/builds/{project.id}/promote", htmx=True,
                      query_string={"connection_room_id": square.id, "direction": "ne"}).get_data(as_text=True)
    assert "Players will be told: <q>The Old Mill is open, northeast of Village square.</q>" in dialog


def test_announcements_turned_off_before_the_post_goes_out_are_not_posted(factories, db, worker, sink):
    admin, _project, result = _promote(factories, sink.target("news"))
    announcements.save_settings(admin, announcements.WorldSettingsCommand(announce_new_areas=False))
    worker()
    assert _row(db, result.announcement.id).status is AnnouncementStatus.off and sink.count() == 0


def test_returning_the_area_to_the_sandbox_before_the_post_cancels_it(factories, db, worker, sink, auth):
    admin, project, result = _promote(factories, sink.target("news"))
    unpromotion.unpromote(admin, project.id)  # before any worker ran
    assert _row(db, result.announcement.id).status is AnnouncementStatus.cancelled
    worker()
    assert sink.count() == 0 and _row(db, result.announcement.id).status is AnnouncementStatus.cancelled
    auth.login(admin.label)
    assert "the area went back to the sandbox" in auth.get(f"/builds/{project.id}").get_data(as_text=True)


def test_a_promotion_that_rolls_back_announces_nothing(factories, db, worker, sink, monkeypatch):
    admin = factories.user("admin", "Acme")
    _announcing(admin, sink.target("news"))
    square = factories.live_room(admin, "square", "Village square")
    project = factories.build_project(admin, name="The Old Mill")
    real = announcements.announce

    def announce_then_fail(*args):
        real(*args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(promotion.announcements, "announce", announce_then_fail)
    with pytest.raises(RuntimeError):
        promotion.promote(admin, project.id, square.id, "north")
    worker()
    assert db.session.scalar(select(func.count()).select_from(AreaAnnouncement)) == 0 and sink.count() == 0
