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
