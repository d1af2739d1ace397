"""Game-night settings: for admins; bad values are 400 and the bot token is shown once."""

from __future__ import annotations

from webapp.gamenight import night_settings


def test_settings_are_for_admins_and_bad_values_are_400(auth, factories, db):
    boss = factories.user("admin", "Acme", email="boss@example.com")
    factories.user("promoter", "Acme", email="pat@example.com")
    auth.login("pat@example.com")
    assert auth.get("/settings/gamenight").status_code == 403
    auth.logout()
    auth.login("boss@example.com")
    for form in ({"time_zone": "Mars/Olympus", "game_start": "21:00", "lead_minutes": "15"},
                 {"time_zone": "Europe/Ljubljana", "game_start": "9pm", "lead_minutes": "15"},
                 {"time_zone": "Europe/Ljubljana", "game_start": "21:00", "lead_minutes": "0"}):
        assert auth.post("/settings/gamenight", data=form).status_code == 400
    ok = auth.post("/settings/gamenight", data={"time_zone": "Europe/London", "game_start": "20:30",
                                                "lead_minutes": "10"})
    assert ok.status_code == 303
    game = night_settings.settings(boss.workspace_id)
    assert (night_settings.workspace(boss.workspace_id).time_zone, game.game_start, game.lead_minutes) == ("Europe/London", "20:30", 10)
    shown = auth.post("/settings/gamenight/bot-token")
    assert shown.headers["Cache-Control"] == "no-store" and "pdb_" in shown.get_data(as_text=True)
    assert "pdb_" not in auth.get("/settings/gamenight").get_data(as_text=True).replace(
        f"{game.bot_token_prefix}…", "")


def test_the_ready_check_delay_is_0_to_30_minutes_5_by_default_and_a_bad_one_writes_nothing(auth, factories, db):
    boss = factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    assert night_settings.settings(boss.workspace_id).ready_check_delay == 5
    assert 'name="ready_check_delay"' in auth.get("/settings/gamenight").get_data(as_text=True)
    form = {"time_zone": "Europe/Ljubljana", "game_start": "21:00", "lead_minutes": "15"}
    for bad in ("31", "-1", "five", "²", "1.5"):
        refused = auth.post("/settings/gamenight", data=form | {"ready_check_delay": bad})
        assert refused.status_code == 400, bad
        assert "&#39;ready_check_delay&#39; is a whole number of minutes from 0 to 30" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert night_settings.settings(boss.workspace_id).ready_check_delay == 5
    for delay in (0, 30, 12):
        assert auth.post("/settings/gamenight", data=form | {"ready_check_delay": str(delay)}).status_code == 303
        db.session.expire_all()
        assert night_settings.settings(boss.workspace_id).ready_check_delay == delay
    assert auth.post("/settings/gamenight", data=form).status_code == 303  # left out: unchanged
    assert auth.post("/settings/gamenight", data=form | {"ready_check_delay": ""}).status_code == 303  # so is empty
    db.session.expire_all()
    assert night_settings.settings(boss.workspace_id).ready_check_delay == 12


def test_the_schema_itself_refuses_a_ready_check_delay_outside_0_to_30(db, factories):
    import pytest
    from sqlalchemy.exc import IntegrityError

    boss = factories.user("admin", "Acme")
    row = night_settings.settings_row(boss.workspace_id)
    row.ready_check_delay = 31
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
