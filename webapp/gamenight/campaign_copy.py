"""What each game-night message says, written once per kind.

A message has a title and a body, and Apprise gives each channel both in its own form: an e-mail's subject and
text, a Discord or Telegram post's bold first line and text, a webhook's `title` and `message`. A reader sees the
two one after the other, so the title names the message and the body says what it is about, and no words stand
in both. Times are the workspace's local clock, the zone named where the time is first given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo


def minutes(span: timedelta) -> int:
    """A span as whole minutes, rounded, never below 0."""
    return max(0, round(span.total_seconds() / 60))


def _minutes_text(n: int) -> str:
    return f"{n} minute{'' if n == 1 else 's'}"


def reminder(start: str, zone: str, until: timedelta, answer_url: str | None = None) -> tuple[str, str]:
    """T − lead (or at once, for a night promoted late): when it starts, and where to answer."""
    left = minutes(until)
    when = f"in {_minutes_text(left)}" if left else "now"
    body = f"We start at {start} ({zone}), {when}. See you there!"
    if answer_url:
        body += f"\nAnswer in, late 15 or can't (here or to the bot): {answer_url}"
    return "Game night soon", body


def start_call(start: str) -> tuple[str, str]:
    """T0: it starts."""
    return "Game night is starting", f"It is {start}: join the voice channel, we are starting."


def nudge(start: str, since: timedelta) -> tuple[str, str]:
    """The ready-check's message to an expected player who is not in voice: how long ago the game started."""
    ago = minutes(since)
    started = f"started {_minutes_text(ago)} ago ({start})" if ago else f"is starting now ({start})"
    return "Are you coming?", f"The game {started} and we are gathering in voice. Join us when you can."


def summary(*, expected: int, joined: int, since: timedelta, missing: Sequence[str], nudged: int,
            in_game_only: Sequence[str] = (), late: Sequence[tuple[str, int]] = (),
            cant: Sequence[str] = ()) -> tuple[str, str]:
    """The ready-check's summary for the summary channel: who joined voice since the start call, who is missing,
    how many were nudged, who is on the game server but not in voice (when a game server reports), and who
    answered the reminder that they come late (their nudge comes that much later) or cannot come."""
    ago = minutes(since)
    when = f"since the start call {_minutes_text(ago)} ago" if ago else "at the start call"
    lines = [f"{joined} of {expected} expected players joined voice {when}.",
             f"Missing: {', '.join(missing) if missing else 'nobody'}.",
             f"Direct messages sent: {nudged}."]
    if in_game_only:
        lines.append(f"In the game server but not in voice: {', '.join(in_game_only)}.")
    if late:
        lines.append(f"Coming late: {', '.join(f'{name} ({n} min)' for name, n in late)}.")
    if cant:
        lines.append(f"Can't come: {', '.join(cant)}.")
    return "Ready-check", "\n".join(lines)


def quorum(start: str, coming: int, needed: int, call_off_url: str) -> tuple[str, str]:
    """To the promoter at the reminder: fewer players than the campaign's minimum are still coming."""
    return "Short of players", (f"Only {coming} of the {needed} players you need are still coming at {start}. "
                                f"Call it off (one tap, everyone is told once): {call_off_url}\n"
                                "Do nothing and the night goes ahead.")


def called_off(start: str) -> tuple[str, str]:
    """To each recipient when the promoter calls the night off."""
    return "Game night called off", f"The game at {start} will not take place. Sorry, and see you next time!"


def local_clock(at: datetime, zone: tzinfo) -> str:
    """`at` as HH:MM on the workspace's clock."""
    return at.astimezone(zone).strftime("%H:%M")
