"""Settings, parsed once from the environment (or `.env`) into a frozen object that fails fast."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEV_SECRET_KEY = "dev-only-insecure-secret-key"


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def strong_password_hash(method: str) -> bool:
    """Whether a werkzeug method string is at least as strong as its default (`scrypt`, n=2**15)."""
    name, *params = method.strip().split(":")
    if name == "scrypt":
        return not params or (params[0].isdecimal() and int(params[0]) >= 2**15)
    if name == "pbkdf2" and params and params[0] in {"sha256", "sha512"}:
        return len(params) == 1 or (params[1].isdecimal() and int(params[1]) >= 600_000)
    return False


@dataclass(frozen=True)
class Settings:
    SECRET_KEY: str = ""
    DATABASE_URL: str = f"sqlite:///{INSTANCE_DIR / 'promotion-desk.sqlite'}"
    REDIS_URL: str = ""
    DEBUG: bool = False
    TESTING: bool = False
    # How long a serving response stays in the Redis cache.
    CACHE_TTL_SECONDS: int = 3600
    # Outbox retry policy: attempts before an effect is marked failed, and the first back-off.
    OUTBOX_MAX_ATTEMPTS: int = 5
    OUTBOX_BACKOFF_SECONDS: float = 2.0
    # How passwords are hashed (werkzeug's method string). Tests use a cheap one; outside testing nothing
    # weaker than the default (scrypt, n=2**15) is accepted.
    PASSWORD_HASH_METHOD: str = "scrypt"
    # Failed logins allowed within the window before login is refused: per (e-mail address, client IP) pair,
    # per client IP across addresses, and per address across all clients (see README "Sign-in throttling").
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_MAX_FAILURES_PER_IP: int = 30
    LOGIN_MAX_FAILURES_PER_ADDRESS: int = 50
    LOGIN_FAILURE_WINDOW_SECONDS: int = 900
    WEBHOOK_TIMEOUT_SECONDS: float = 5.0
    # Game-night deliveries: attempts per message before it is failed, the first back-off between
    # attempts, and how long a claim may stay `sending` before it is taken for a crash (`unknown`).
    DELIVERY_MAX_ATTEMPTS: int = 3
    DELIVERY_BACKOFF_SECONDS: float = 30.0
    DELIVERY_LEASE_SECONDS: float = 90.0
    # How long one channel send may take to connect and then to answer (Apprise's `cto`/`rto`; for e-mail the
    # whole SMTP conversation). A send that times out after its request went out is `unknown`, never repeated.
    DELIVERY_TIMEOUT_SECONDS: float = 10.0
    # E-mail contacts: the server's Apprise mail URL (e.g. mailtos://user:pass@smtp.example.com?from=desk@example.com;
    # each member's address is added as `to=`), and the dashboard's address for links in messages.
    MAIL_URL: str = ""
    PUBLIC_URL: str = "http://127.0.0.1:5000"
    # How many runs of a large campaign job share its fan-out (one per worker you run).
    FANOUT_RUNS: int = 2
    # A bot's presence report counts for the ready-check this many minutes.
    PRESENCE_WINDOW_MINUTES: int = 5
    # Discord sign-in and linking (OAuth2 + PKCE, scope `identify`): the Discord application's client id and
    # secret (without both, the Discord buttons are hidden), the comma-separated callback addresses this
    # server may send to Discord (each registered there too; empty means `<PUBLIC_URL>/auth/discord/callback`),
    # and Discord's address (tests point it at a fake provider).
    DISCORD_CLIENT_ID: str = ""
    DISCORD_CLIENT_SECRET: str = field(default="", repr=False)
    DISCORD_REDIRECT_URIS: str = ""
    DISCORD_BASE_URL: str = "https://discord.com"
    # The Discord bot's REST API (planning-room threads; the bot token and channel are workspace settings) and how
    # long one call may take to connect and then to answer (tests point the address at a fake API).
    DISCORD_API_URL: str = "https://discord.com/api/v10"
    DISCORD_API_TIMEOUT_SECONDS: float = 10.0
    RQ_QUEUES: tuple[str, ...] = field(default=("default",))
    # Set by `make run`'s supervisor (webapp/devserver.py) for its children, never in production: the demo inbox
    # page (/dev/inbox, reading the file the supervisor's sink writes) and the demo logins on the sign-in page.
    DEVELOPMENT: bool = False
    DEV_INBOX_PATH: str = str(INSTANCE_DIR / "dev-inbox.jsonl")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = {**read_dotenv(Path.cwd() / ".env"), **(environ if environ is not None else os.environ)}
        debug = _bool(env.get("FLASK_DEBUG", "")) or _bool(env.get("DEBUG", ""))
        settings = cls(DEBUG=debug)
        overrides: dict[str, object] = {}
        for f in fields(cls):
            # TESTING is for the test suite's own Settings only: from the environment it would start
            # a deployment with the development key and insecure cookies.
            if f.name in env and f.name not in {"DEBUG", "TESTING", "RQ_QUEUES"}:
                raw = env[f.name]
                default = getattr(settings, f.name)
                try:
                    if isinstance(default, bool):
                        overrides[f.name] = _bool(raw)
                    elif isinstance(default, int):
                        overrides[f.name] = int(raw)
                    elif isinstance(default, float):
                        overrides[f.name] = float(raw)
                    else:
                        overrides[f.name] = raw
                except ValueError as exc:
                    raise SettingsError(f"{f.name}={raw!r} is not a valid {type(default).__name__}") from exc
        return replace(settings, **overrides).validated()

    def validated(self) -> Settings:
        if not self.TESTING and not strong_password_hash(self.PASSWORD_HASH_METHOD):
            raise SettingsError(
                f"PASSWORD_HASH_METHOD={self.PASSWORD_HASH_METHOD!r} is weaker than the default; outside tests use "
                "scrypt (n ≥ 32768) or pbkdf2:sha256 with at least 600000 iterations.")
        if not self.SECRET_KEY:
            if not (self.DEBUG or self.TESTING):
                raise SettingsError(
                    "SECRET_KEY is not set. Set it in the environment or in .env, e.g.\n"
                    "  SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')\n"
                    "(only debug and test runs fall back to an insecure development key)."
                )
            return replace(self, SECRET_KEY=DEV_SECRET_KEY)
        return self

    @property
    def discord_configured(self) -> bool:
        return bool(self.DISCORD_CLIENT_ID.strip() and self.DISCORD_CLIENT_SECRET.strip())

    @property
    def discord_redirect_uris(self) -> tuple[str, ...]:
        """The allowlist of OAuth callback addresses (exact matches)."""
        uris = tuple(u.strip() for u in self.DISCORD_REDIRECT_URIS.split(",") if u.strip())
        return uris or (self.PUBLIC_URL.rstrip("/") + "/auth/discord/callback",)

    @property
    def database_url(self) -> str:
        url = self.DATABASE_URL
        # Accept the common spellings and use psycopg 3 for PostgreSQL.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
