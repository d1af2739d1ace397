"""The app-wide template filters (times in the workspace's zone, JSON for display), registered by create_app."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g

VALUE_PREVIEW_CHARS = 2000


def format_datetime(value: datetime | None) -> str:
    """An aware UTC time in the current workspace's time zone (UTC when there is none)."""
    if value is None:
        return ""
    return value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M %Z")


def format_clock(value: datetime) -> str:
    """HH:MM of an aware time in the current workspace's time zone."""
    return value.astimezone(_zone()).strftime("%H:%M")


def time_ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, coarsely: "just now", "5 min ago", "2 h ago", "3 d ago"."""
    if value is None:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def compact_json(value: Any, limit: int = VALUE_PREVIEW_CHARS) -> str:
    """One line of JSON, cut at `limit` characters with a note of the full length."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def pretty_json(value: Any) -> str:
    """Indented JSON for reading and editing; nothing for None."""
    return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2)


def _zone() -> Any:
    workspace = g.get("workspace")
    return workspace.zone if workspace is not None else UTC


FILTERS = {"datetime": format_datetime, "localclock": format_clock, "ago": time_ago,
           "compact_json": compact_json, "pretty_json": pretty_json}


def init_templating(app: Flask) -> None:
    """Register the filters every template may use, whichever blueprint renders it."""
    app.jinja_env.filters.update(FILTERS)
