"""A small chat bot for Promotion Desk game nights: Telegram, Signal or Discord (or a console to try it).

Members link their chat account with the one-time code from their profile page (`link K7QF2M9X`) and
then set, change or clear their availability (`today available`, `tomorrow maybe`, `2030-01-31 clear`,
or just `maybe` for today), and answer a game night's reminder with `in`, `late 15` or `can't` (passed on as
they are: the desk reads the words). The bot talks to the desk over HTTP only, with the workspace's bot token:

    POST /api/v1/link/confirm       {"code", "channel", "external_id", "target"?}
    POST /api/v1/availability       {"channel", "external_id", "date", "status"}   (status null clears)
    POST /api/v1/campaigns/answers  {"channel", "external_id", "answer"}   ("in", "late 15", "can't")

Without a game night to answer, `in` and `can't` set today's status (available, not available) as before.

Every adapter needs DESK_URL (e.g. https://desk.example.com) and DESK_BOT_TOKEN (`pdb_…`, rotated by an
admin on Game settings). DESK_TARGET_TEMPLATE (optional) is the Apprise URL sent when a member links,
with `{external_id}` filled in, e.g. `tgram://<bot token>/{external_id}`.

    python examples/desk_bot.py telegram   # TELEGRAM_BOT_TOKEN; TELEGRAM_API (default https://api.telegram.org)
                                           # long polling: getUpdates + sendMessage (parse_mode HTML)
    python examples/desk_bot.py signal     # SIGNAL_NUMBER (the bot's +number); SIGNAL_API (default
                                           # http://localhost:8080), a signal-cli-rest-api in normal or native
                                           # mode: GET /v1/receive/<number>, POST /v2/send
    python examples/desk_bot.py discord    # DISCORD_PUBLIC_KEY (hex); DISCORD_HOST (127.0.0.1), DISCORD_PORT
                                           # (8787): the "Interactions Endpoint URL" (behind HTTPS) for the
                                           # slash commands /avail, /link and /answer
    python examples/desk_bot.py discord-register   # DISCORD_APP_ID, DISCORD_BOT_TOKEN: registers /avail, /link, /answer
    python examples/desk_bot.py console    # CONSOLE_CHANNEL (signal), CONSOLE_EXTERNAL_ID: type commands on stdin

Dependencies: the standard library, `requests`, and `cryptography` for Discord's signatures.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import requests

log = logging.getLogger("desk_bot")

CHANNELS = ("telegram", "signal", "discord")
STATUSES = ("available", "maybe", "looking", "not_available")
STATUS_WORDS = {  # what members type → the API's status
    "available": "available", "yes": "available", "in": "available", "free": "available",
    "maybe": "maybe", "perhaps": "maybe",
    "looking": "looking", "lfg": "looking",
    "not available": "not_available", "unavailable": "not_available", "no": "not_available",
    "out": "not_available", "busy": "not_available",
}
CLEAR_WORDS = ("clear", "none", "reset")
DAY_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")  # loosely: the API says what is wrong with a bad date
# A reminder's answer, passed on as typed (the desk reads the words and says what is wrong with them).
ANSWER_RE = re.compile(r"in|late(\s*\+?\s*\d+\s*(m|min|mins|minutes?)?)?|can'?t|cannot|can not", re.IGNORECASE)
ANSWER_FALLBACK = {"in": "available", "cant": "not_available"}  # with no game night to answer: today's status
TIMEOUT = 10.0


# -- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """What a member asked for: `link` (with `code`), `set` (`day`, `status`; None clears), `answer` (the
    reminder's answer, as typed) or `help` (with the `problem`, when the text was not understood)."""

    action: str
    code: str = ""
    day: str = "today"
    status: str | None = None
    problem: str = ""
    answer: str = ""


def _day(word: str) -> str | None:
    word = word.lower()
    return word if word in ("today", "tomorrow") or DAY_RE.fullmatch(word) else None


def _status(words: list[str]) -> str | None:
    text = " ".join(words).lower().replace("_", " ").replace("-", " ")
    return "clear" if text in CLEAR_WORDS else STATUS_WORDS.get(text)


def parse(text: str) -> Command:
    """`link CODE`, `today|tomorrow|YYYY-MM-DD <status|clear>`, a bare status (today), `help`; an optional
    `/` or `!` prefix and Telegram's `/today@MyBot` form. Anything else is help, saying what was wrong."""
    words = (text or "").split()
    if not words:
        return Command("help")
    head = words[0].lstrip("/!").split("@", 1)[0].lower()
    words = [head, *words[1:]] if head else words[1:]
    if words and words[0] in ("avail", "set", "status"):  # `/avail tomorrow maybe`
        words = words[1:]
    if not words or words[0] in ("help", "start"):
        return Command("help")
    if words[0] == "link":
        code = "".join(words[1:])
        return Command("link", code=code) if code else Command("help", problem="Send the code after link.")
    if words[0] == "answer":  # Discord's `/answer reply:late 15`
        words = words[1:]
    said = " ".join(words).replace("\u2019", "'").rstrip(".!")
    if ANSWER_RE.fullmatch(said):
        return Command("answer", answer=said)
    day = _day(words[0])
    if day:
        words = words[1:]
    elif len(words) > 1 and _day(words[-1]):  # `available tomorrow`
        day, words = _day(words[-1]), words[:-1]
    if not words:
        return Command("help", problem=f"Say which status for {day}.")
    status = _status(words)
    if status is None:
        return Command("help", problem=f"I don't know “{' '.join(words)}”.")
    return Command("set", day=day or "today", status=None if status == "clear" else status)


# -- the desk's API -----------------------------------------------------------------------------


class DeskError(Exception):
    """The desk refused (`code` and `message` from its JSON error) or could not be reached."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class DeskClient:
    """The two calls a chat bot makes, with the workspace's bot token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/api/v1")
        self.token, self.timeout = token, timeout
        self.session = requests.Session()

    def link(self, channel: str, external_id: str, code: str, target: str | None = None) -> dict[str, Any]:
        """→ `{"linked": true, "channel", "player", "has_player_profile"}`."""
        body = {"code": code, "channel": channel, "external_id": external_id}
        if target:
            body["target"] = target
        return self._post("/link/confirm", body)

    def set_availability(self, channel: str, external_id: str, day: str, status: str | None) -> dict[str, Any]:
        """`day`: today, tomorrow or YYYY-MM-DD; `status` None clears → `{"date", "status"}`."""
        return self._post("/availability", {"channel": channel, "external_id": external_id, "date": day,
                                            "status": status})

    def answer(self, channel: str, external_id: str, words: str) -> dict[str, Any]:
        """A reminder's answer ("in", "late 15", "can't") → `{"answers": [{"campaign_id", "answer", ...}]}`."""
        return self._post("/campaigns/answers", {"channel": channel, "external_id": external_id, "answer": words})

    def close(self) -> None:
        self.session.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.session.post(f"{self.base_url}/api/v1{path}", json=body, timeout=self.timeout,
                                         headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException as exc:
            log.warning("desk unreachable: %s", exc)
            raise DeskError("unreachable", "The desk cannot be reached right now; try again in a minute.") from exc
        if response.ok:
            return response.json()
        raise _desk_error(response)


def _desk_error(response: requests.Response) -> DeskError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # {"error": {"code", "message"}}
        code, message = error.get("code"), error.get("message")
    else:  # {"error": code, "message"}, what the desk answers
        code, message = error, body.get("message") if isinstance(body, dict) else None
    return DeskError(str(code or f"http_{response.status_code}"),
                     str(message or f"The desk answered {response.status_code}."), response.status_code)


# -- replies, formatted per channel -------------------------------------------------------------


class Plain:
    """Signal (and the console): plain text."""

    link_howto = "link CODE"
    examples = (("today available", "your status for today"), ("tomorrow maybe", "for tomorrow"),
                ("YYYY-MM-DD clear", "clear a date"), ("link CODE", "link this account"),
                ("late 15", "answer tonight's reminder: in, late N or can't"))

    def text(self, value: str) -> str:
        return value

    def bold(self, value: str) -> str:
        return self.text(value)

    def code(self, value: str) -> str:
        return value


class TelegramHTML(Plain):
    """Telegram's `parse_mode=HTML`: only <, > and & need escaping."""

    link_howto = "/link CODE"
    examples = (("/today available", "your status for today"), ("/tomorrow maybe", "for tomorrow"),
                ("YYYY-MM-DD clear", "clear a date"), ("/link CODE", "link this account"),
                ("late 15", "answer tonight's reminder: in, late N or can't"))

    def text(self, value: str) -> str:
        return html.escape(value, quote=False)

    def bold(self, value: str) -> str:
        return f"<b>{self.text(value)}</b>"

    def code(self, value: str) -> str:
        return f"<code>{self.text(value)}</code>"


class DiscordMarkdown(Plain):
    """Discord markdown: a backslash before each special in text the bot did not write."""

    link_howto = "/link code:CODE"
    examples = (("/avail status:available", "your status for today"),
                ("/avail day:tomorrow status:maybe", "for tomorrow"),
                ("/avail day:YYYY-MM-DD status:clear", "clear a date"), ("/link code:CODE", "link this account"),
                ("/answer reply:late 15", "answer tonight's reminder: in, late N or can't"))
    SPECIALS = re.compile(r"([\\*_~`|\[\]<>])|^([#>-])", re.MULTILINE)

    def text(self, value: str) -> str:
        return self.SPECIALS.sub(lambda m: "\\" + (m.group(1) or m.group(2)), value)

    def bold(self, value: str) -> str:
        return f"**{self.text(value)}**"

    def code(self, value: str) -> str:
        return "`" + value.replace("`", "'") + "`"


STYLES: dict[str, Plain] = {"telegram": TelegramHTML(), "discord": DiscordMarkdown(), "signal": Plain()}


def help_reply(style: Plain, problem: str = "") -> str:
    lines = [style.text(problem)] if problem else []
    lines.append(f"{style.bold('Game-night bot')}: statuses are {', '.join(STATUSES).replace('_', ' ')} or clear.")
    lines += [f"{style.code(example)} — {what}" for example, what in style.examples]
    return "\n".join(lines)


def _day_label(command: Command, day: str) -> str:
    return f"{command.day} ({day})" if command.day in ("today", "tomorrow") else day


def handle(client: DeskClient, channel: str, external_id: str, text: str, *, target: str | None = None) -> str:
    """Run one message's command for the chat identity (channel, external id) and return the reply,
    formatted for the channel. The desk's refusals come back as its own message."""
    style = STYLES.get(channel, Plain())
    command = parse(text)
    try:
        if command.action == "link":
            answer = client.link(channel, external_id, command.code, target)
            if not answer.get("has_player_profile"):
                return ("Linked. Now create your player profile on your profile page, then set your status "
                        f"with {style.code(style.examples[0][0])}.")
            return (f"Linked: this {channel} account is now {style.bold(answer.get('player') or 'yours')}'s. "
                    f"Set your status with {style.code(style.examples[0][0])}.")
        if command.action == "answer":
            return _answer(client, channel, external_id, command, style)
        if command.action == "set":
            answer = client.set_availability(channel, external_id, command.day, command.status)
            when = _day_label(command, answer["date"])
            if answer.get("status") is None:
                return f"Cleared your status for {when}."
            return f"You are {style.bold(answer['status'].replace('_', ' '))} for {when}."
    except DeskError as exc:
        if exc.status == 401:
            log.error("the desk refused the bot token: %s", exc.message)
            return "This bot's token was refused by the desk; ask an admin to check it on Game settings."
        if exc.code == "not_linked" and exc.status == 404:
            return f"{style.text(exc.message)}\nSend it here as {style.code(style.link_howto)}."
        return style.text(exc.message)
    return help_reply(style, command.problem)


def _answer(client: DeskClient, channel: str, external_id: str, command: Command, style: Plain) -> str:
    """Pass the answer on; with no game night to answer, "in" and "can't" set today's status instead."""
    word = command.answer.lower().replace("'", "").split()[0]
    try:
        answers = client.answer(channel, external_id, command.answer)["answers"]
    except DeskError as exc:
        if exc.code != "no_campaign" or word not in ANSWER_FALLBACK:
            raise
        answer = client.set_availability(channel, external_id, "today", ANSWER_FALLBACK[word])
        return f"You are {style.bold(answer['status'].replace('_', ' '))} for today ({answer['date']})."
    first = answers[0]
    if not first["changed"]:
        return "You had answered that already."
    if first["answer"] == "cant":
        return "Thanks for telling us: you get no more messages for tonight's game."
    if first["answer"] == "late":
        return f"Got it: you'll be {style.bold(str(first['late_minutes']))} minutes late; we nudge you then."
    return f"Great, you're {style.bold('in')}. See you there!"


def _target(template: str, external_id: str) -> str | None:
    return template.format(external_id=external_id) if template else None


# -- Telegram: long polling ---------------------------------------------------------------------


def telegram_poll_once(client: DeskClient, api: str, bot_token: str, offset: int, *, timeout: int = 0,
                       target_template: str = "") -> int:
    """Fetch one batch of updates (`getUpdates` from `offset`), answer each text message with
    `sendMessage` in HTML, and return the next offset."""
    base = f"{api.rstrip('/')}/bot{bot_token}"
    response = requests.get(f"{base}/getUpdates", timeout=timeout + TIMEOUT,
                            params={"offset": offset, "timeout": timeout, "allowed_updates": '["message"]'})
    response.raise_for_status()
    for update in response.json().get("result", []):
        offset = max(offset, int(update["update_id"]) + 1)
        message = update.get("message") or {}
        sender = (message.get("from") or {}).get("id")
        if not message.get("text") or sender is None:
            continue
        reply = handle(client, "telegram", str(sender), message["text"],
                       target=_target(target_template, str(sender)))
        try:
            requests.post(f"{base}/sendMessage", timeout=TIMEOUT, json={
                "chat_id": message["chat"]["id"], "text": reply, "parse_mode": "HTML"}).raise_for_status()
        except requests.RequestException as exc:  # the command ran; do not run it again for a lost reply
            log.warning("telegram sendMessage failed: %s", _quiet(exc))
    return offset


def run_telegram(client: DeskClient, api: str, bot_token: str, target_template: str = "") -> None:
    offset = 0
    while True:
        try:
            offset = telegram_poll_once(client, api, bot_token, offset, timeout=30, target_template=target_template)
        except requests.RequestException as exc:
            log.warning("telegram getUpdates failed: %s", _quiet(exc))
            time.sleep(5)


def _quiet(exc: requests.RequestException) -> str:
    """An error without its URL: Telegram's carries the bot token in the path."""
    response = getattr(exc, "response", None)
    return f"{type(exc).__name__} (HTTP {response.status_code})" if response is not None else type(exc).__name__


# -- Signal: signal-cli-rest-api ----------------------------------------------------------------


def signal_receive_once(client: DeskClient, api: str, number: str, *, target_template: str = "") -> int:
    """Receive the waiting messages of the bot's `number` and answer each one; returns how many."""
    api = api.rstrip("/")
    response = requests.get(f"{api}/v1/receive/{quote(number, safe='+')}", timeout=60)
    response.raise_for_status()
    answered = 0
    for item in response.json() or []:
        envelope = item.get("envelope") or {}
        text = (envelope.get("dataMessage") or {}).get("message")
        # The account's UUID is the identity (a number may be hidden, or change); replies go to the number.
        identity = envelope.get("sourceUuid") or envelope.get("sourceNumber") or envelope.get("source")
        recipient = envelope.get("sourceNumber") or envelope.get("source") or identity
        if not text or not identity:
            continue
        reply = handle(client, "signal", identity, text, target=_target(target_template, identity))
        try:
            requests.post(f"{api}/v2/send", timeout=TIMEOUT,
                          json={"message": reply, "number": number, "recipients": [recipient]}).raise_for_status()
        except requests.RequestException as exc:
            log.warning("signal send failed: %s", exc)
        answered += 1
    return answered


def run_signal(client: DeskClient, api: str, number: str, target_template: str = "") -> None:
    while True:
        try:
            signal_receive_once(client, api, number, target_template=target_template)
        except requests.RequestException as exc:
            log.warning("signal receive failed: %s", exc)
            time.sleep(5)
        time.sleep(1)


# -- Discord: an HTTP interactions endpoint -----------------------------------------------------

PING, APPLICATION_COMMAND = 1, 2
PONG, CHANNEL_MESSAGE = 1, 4
EPHEMERAL = 64  # only the member who asked sees the answer
DISCORD_MAX_SKEW = 300  # seconds between a request's signed timestamp and now
STRING = 3
DISCORD_COMMANDS = [
    {"name": "avail", "description": "Set, change or clear your game-night status", "options": [
        {"type": STRING, "name": "status", "description": "Your status", "required": True,
         "choices": [{"name": s.replace("_", " "), "value": s} for s in (*STATUSES, "clear")]},
        {"type": STRING, "name": "day", "description": "today (default), tomorrow or YYYY-MM-DD"}]},
    {"name": "link", "description": "Link this Discord account to Promotion Desk", "options": [
        {"type": STRING, "name": "code", "description": "The code from your profile page", "required": True}]},
    {"name": "answer", "description": "Answer tonight's game-night reminder", "options": [
        {"type": STRING, "name": "reply", "description": "in, late 15 or can't", "required": True}]},
]


def discord_command_text(data: dict[str, Any]) -> str:
    """A slash command as the text the parser reads: `/link code:X` → `link X`, `/avail …` → `<day> <status>`."""
    options = {o.get("name"): str(o.get("value", "")) for o in data.get("options") or []}
    if data.get("name") == "link":
        return f"link {options.get('code', '')}"
    if data.get("name") == "avail":
        return f"{options.get('day') or 'today'} {options.get('status', '')}"
    if data.get("name") == "answer":
        return f"answer {options.get('reply', '')}"
    return "help"


def discord_verified(public_key: Any, body: bytes, signature: str, timestamp: str, *,
                     now: float | None = None) -> bool:
    """Discord signs `timestamp + body` with the application's Ed25519 key; a request signed more than
    `DISCORD_MAX_SKEW` seconds away from now is a replay, refused too."""
    from cryptography.exceptions import InvalidSignature

    try:
        if abs((now if now is not None else time.time()) - int(timestamp)) > DISCORD_MAX_SKEW:
            return False
        public_key.verify(bytes.fromhex(signature), timestamp.encode() + body)
    except (InvalidSignature, ValueError):
        return False
    return True


def discord_answer(client: DeskClient, public_key: Any, body: bytes, signature: str,
                   timestamp: str) -> tuple[int, dict[str, Any]]:
    """One interaction → (HTTP status, JSON answer): 401 unsigned, PONG to a PING, a message to a command."""
    if not discord_verified(public_key, body, signature, timestamp):
        return 401, {"error": "invalid request signature"}
    try:
        interaction = json.loads(body)
    except ValueError:
        return 400, {"error": "not JSON"}
    if interaction.get("type") == PING:
        return 200, {"type": PONG}
    if interaction.get("type") != APPLICATION_COMMAND:
        return 400, {"error": "unsupported interaction type"}
    user = (interaction.get("member") or {}).get("user") or interaction.get("user") or {}
    reply = handle(client, "discord", str(user.get("id", "")), discord_command_text(interaction.get("data") or {}))
    return 200, {"type": CHANNEL_MESSAGE,
                 "data": {"content": reply, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}}}


def discord_handler(client: DeskClient, public_key_hex: str) -> type[BaseHTTPRequestHandler]:
    """An `http.server` handler for Discord's Interactions Endpoint URL."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))

    class InteractionHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= 1_000_000:
                status, answer = 413, {"error": "too large"}
            else:
                status, answer = discord_answer(client, public_key, self.rfile.read(length),
                                                self.headers.get("X-Signature-Ed25519", ""),
                                                self.headers.get("X-Signature-Timestamp", ""))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("discord %s", format % args)

    return InteractionHandler


def serve_discord(client: DeskClient, public_key_hex: str, host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), discord_handler(client, public_key_hex))
    log.info("discord interactions endpoint on http://%s:%s/", host, server.server_port)
    server.serve_forever()


def register_discord_commands(app_id: str, bot_token: str) -> None:
    """Create (or overwrite) the global slash commands /avail, /link and /answer."""
    requests.put(f"https://discord.com/api/v10/applications/{app_id}/commands", json=DISCORD_COMMANDS,
                 headers={"Authorization": f"Bot {bot_token}"}, timeout=TIMEOUT).raise_for_status()


# -- console: try it without a chat service -----------------------------------------------------


def console_loop(client: DeskClient, channel: str, external_id: str, lines: Iterable[str],
                 out: Callable[[str], Any] = print) -> None:
    for line in lines:
        if line.strip():
            out(handle(client, channel, external_id, line))


# -- main ---------------------------------------------------------------------------------------


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise SystemExit(f"desk_bot: set {name} (see `python examples/desk_bot.py` for help)")
    return value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    adapter = args[0] if len(args) == 1 else ""
    if adapter not in ("telegram", "signal", "discord", "discord-register", "console"):
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if adapter == "discord-register":
        register_discord_commands(_env("DISCORD_APP_ID"), _env("DISCORD_BOT_TOKEN"))
        return 0
    client = DeskClient(_env("DESK_URL"), _env("DESK_BOT_TOKEN"))
    template = os.environ.get("DESK_TARGET_TEMPLATE", "")
    if adapter == "telegram":
        run_telegram(client, _env("TELEGRAM_API", "https://api.telegram.org"), _env("TELEGRAM_BOT_TOKEN"), template)
    elif adapter == "signal":
        run_signal(client, _env("SIGNAL_API", "http://localhost:8080"), _env("SIGNAL_NUMBER"), template)
    elif adapter == "discord":
        serve_discord(client, _env("DISCORD_PUBLIC_KEY"), _env("DISCORD_HOST", "127.0.0.1"),
                      int(_env("DISCORD_PORT", "8787")))
    else:
        console_loop(client, _env("CONSOLE_CHANNEL", "signal"), _env("CONSOLE_EXTERNAL_ID"), sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
