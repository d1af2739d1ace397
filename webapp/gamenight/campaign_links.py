"""The signed links a campaign's messages carry: a recipient's answer page (from the reminder) and the promoter's
"Call it off" page (from the quorum warning). Each opens a page with a button — a GET never acts, because chat
apps and mail scanners open links to preview them; the person's tap is the POST."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from webapp.errors import NotFound

LINK_MAX_AGE = 2 * 24 * 3600  # seconds: the night is over long before


def _signer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _url(path: str) -> str:
    return current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + path


def _read(salt: str, token: str, what: str) -> tuple[int, int]:
    try:
        data = _signer(salt).loads(token, max_age=LINK_MAX_AGE)
        return int(data["c"]), int(data["u"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(f"This {what} link is not valid or has expired.", code="link_invalid") from None


def answer_token(campaign_id: int, user_id: int) -> str:
    return _signer("campaign-answer").dumps({"c": campaign_id, "u": user_id})


def answer_url(campaign_id: int, user_id: int) -> str:
    """The recipient's own answer page ("in", "late N", "can't"), linked from the reminder."""
    return _url(f"/gamenight/answer/{answer_token(campaign_id, user_id)}")


def read_answer_token(token: str) -> tuple[int, int]:
    """(campaign id, user id) of an answer link; 404 `link_invalid` for a bad or expired one."""
    return _read("campaign-answer", token, "answer")


def call_off_token(campaign_id: int, promoter_id: int) -> str:
    return _signer("campaign-call-off").dumps({"c": campaign_id, "u": promoter_id})


def call_off_url(campaign_id: int, promoter_id: int) -> str:
    """The promoter's one-tap "Call it off" page, linked from the quorum warning."""
    return _url(f"/gamenight/call-off/{call_off_token(campaign_id, promoter_id)}")


def read_call_off_token(token: str) -> tuple[int, int]:
    """(campaign id, promoter id) of a call-off link; 404 `link_invalid` for a bad or expired one."""
    return _read("campaign-call-off", token, "call-off")
