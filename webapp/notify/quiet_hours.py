"""Quiet hours: the `HH:MM-HH:MM` rule a preference holds, read by preferences (on save) and delivery (on send)."""

from __future__ import annotations

import re
from datetime import time

from webapp.errors import BadRequest

QUIET_HOURS_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
QUIET_HOURS_FORMAT = "Quiet hours must look like HH:MM-HH:MM in 24-hour time, e.g. 22:00-08:00."


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """`"22:00-08:00"` → (22:00, 08:00); empty → None; anything else → 400 naming the format."""
    text = (text or "").strip()
    if not text:
        return None
    match = QUIET_HOURS_RE.fullmatch(text)
    if not match:
        raise BadRequest(QUIET_HOURS_FORMAT, code="invalid_quiet_hours")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise BadRequest(f"{QUIET_HOURS_FORMAT} Start and end must differ.", code="invalid_quiet_hours")
    return start, end


def in_quiet_hours(quiet: str | None, local: time) -> bool:
    """Whether the local clock time `local` falls in `quiet` (start inclusive, end exclusive)."""
    parsed = parse_quiet_hours(quiet)
    if parsed is None:
        return False
    start, end = parsed
    local = local.replace(second=0, microsecond=0, tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps midnight
