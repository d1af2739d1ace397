"""The demo inbox's file: one JSON line per message that `make run`'s sink caught (webapp/devserver.py writes,
the /dev/inbox page reads). Development only; a file, not a table, so production's schema knows nothing of it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_write_lock = threading.Lock()  # the sink's handler threads share one file


@dataclass(frozen=True)
class CaughtMessage:
    at: datetime  # aware UTC, when the sink received it
    target: str  # the Apprise URL it was sent to, e.g. json://127.0.0.1:8025/ana
    title: str
    body: str


def parse_post(target: str, raw: bytes, at: datetime | None = None) -> CaughtMessage:
    """What an Apprise `json://` post (`{"title": …, "message": …}`) says; any other body is kept as text."""
    title, body = "", raw.decode("utf-8", "replace")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        title, body = str(payload.get("title") or ""), str(payload.get("message") or "")
    return CaughtMessage(at or datetime.now(UTC), target, title, body)


def append(path: Path, message: CaughtMessage) -> None:
    line = json.dumps({"at": message.at.isoformat(), "target": message.target, "title": message.title,
                       "body": message.body}, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock, path.open("a", encoding="utf-8") as file:
        file.write(line + "\n")


def read_newest_first(path: Path) -> list[CaughtMessage]:
    """Every message in the file, newest first; none when there is no file yet. A torn last line (the sink
    writing as we read) is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    messages = []
    for line in lines:
        try:
            row = json.loads(line)
            messages.append(CaughtMessage(datetime.fromisoformat(row["at"]), str(row["target"]),
                                          str(row.get("title") or ""), str(row.get("body") or "")))
        except (ValueError, KeyError, TypeError):
            continue
    messages.sort(key=lambda m: m.at, reverse=True)
    return messages
