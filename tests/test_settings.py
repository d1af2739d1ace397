"""Settings come from the environment or `.env`; a deployment without SECRET_KEY does not start."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import DEV_SECRET_KEY, Settings, SettingsError


@pytest.fixture(autouse=True)
def _no_dotenv_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `.env` is read from the working directory
    for name in ("SECRET_KEY", "FLASK_DEBUG", "DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_without_secret_key_outside_debug_start_up_stops_with_a_clear_message():
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        Settings.from_env({})
    with pytest.raises(SystemExit, match="Promotion Desk cannot start: SECRET_KEY is not set"):
        create_app()  # reads os.environ, which the test run does not give a SECRET_KEY


def test_testing_from_the_environment_does_not_unlock_the_development_key():
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        Settings.from_env({"TESTING": "1"})


def test_debug_runs_fall_back_to_the_development_key():
    assert Settings.from_env({"FLASK_DEBUG": "1"}).SECRET_KEY == DEV_SECRET_KEY


def test_dotenv_is_read_and_the_environment_wins_over_it(_no_dotenv_here):
    (_no_dotenv_here / ".env").write_text("SECRET_KEY=from-dotenv\nCACHE_TTL_SECONDS=60\n# a comment\n")
    settings = Settings.from_env({})
    assert (settings.SECRET_KEY, settings.CACHE_TTL_SECONDS) == ("from-dotenv", 60)
    assert Settings.from_env({"SECRET_KEY": "from-env"}).SECRET_KEY == "from-env"


def test_a_setting_of_the_wrong_type_names_itself():
    with pytest.raises(SettingsError, match="CACHE_TTL_SECONDS='soon' is not a valid int"):
        Settings.from_env({"SECRET_KEY": "k", "CACHE_TTL_SECONDS": "soon"})


def test_outside_tests_a_postgresql_pool_pings_each_connection_before_a_request_uses_it():
    """A connection the server dropped (a restart, an idle timeout) is replaced before it fails a request; only
    the test suite's own app skips the round trip."""
    settings = Settings.from_env({"SECRET_KEY": "k" * 32, "DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/db"})
    app = create_app(settings)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    assert app.config["SETTINGS"].TESTING is False
