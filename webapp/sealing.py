"""Secrets at rest: tokens are hashed (we only ever compare them), channel and webhook secrets are
encrypted (we must use them again), both keyed from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def sign(secret: str, body: bytes) -> str:
    """HMAC-SHA256 signature header value for a webhook body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
