"""Secrets at rest: tokens are hashed (we only ever compare them), channel and webhook secrets are
encrypted (we must use them again), both keyed from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def new_token(prefix: str) -> str:
    """A random bearer token with a readable prefix, e.g. `pdk_prod_3q…` (43 random characters)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fernet() -> Fernet:
    key = hashlib.sha256(b"promotion-desk/seal/" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # SECRET_KEY changed since it was sealed
        raise ValueError("cannot decrypt a stored secret: was SECRET_KEY changed?") from exc


# Secrets that ride in a URL's path, because the client cannot send a header: a calendar app fetches the feed,
# a member taps a link in a chat or a mail (an answer to a reminder, a call-off, an e-mail confirmation).
SECRET_PATHS = re.compile(r"(/calendar/|/gamenight/answer/|/gamenight/call-off/|/contacts/email/confirm/)"
                          r"[^/\s?#\"]+?(\.ics)?(?=[/\s?#\"]|$)")


def redact_paths(text: str) -> str:
    """`text` with the secret part of such a path replaced, for log lines."""
    return SECRET_PATHS.sub(r"\1[redacted]\2", text)


class SecretPathFilter(logging.Filter):
    """Keeps URL-borne tokens out of the log: the dev server's request lines (werkzeug's logger) and the app's
    own "error on GET <path>" lines. gunicorn writes no access log unless asked; a proxy's log is its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_paths(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_paths(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_secret_paths(*loggers: logging.Logger) -> None:
    """Install the filter on each logger, once (create_app runs more than once in a process)."""
    for logger in loggers:
        if not any(isinstance(f, SecretPathFilter) for f in logger.filters):
            logger.addFilter(SecretPathFilter())
