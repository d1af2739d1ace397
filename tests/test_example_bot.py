"""The example chat bot (examples/desk_bot.py) against the real app over real HTTP: its command parser, its
API client, and per channel (Telegram, Signal, Discord) linking with a code, setting, changing and clearing
availability, and replies formatted for the channel. Telegram and signal-cli are fakes (pytest-httpserver);
Discord's interactions endpoint is the bot's own `http.server` handler, called with signed requests."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from tests.gamenight.steps import soon
from webapp.accounts.models import Workspace
from webapp.gamenight import campaigns, night_settings, players
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Availability, CampaignAnswer
from webapp.notify.models import Contact

BOT_PATH = Path(__file__).resolve().parents[1] / "examples" / "desk_bot.py"


def _load_bot() -> Any:
    """examples/ is not a package of the project: load the script by its path."""
    if "desk_bot" not in sys.modules:
        spec = importlib.util.spec_from_file_location("desk_bot", BOT_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["desk_bot"] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules["desk_bot"]


bot = _load_bot()
TELEGRAM_TOKEN = "123456:telegram-test-token"
SIGNAL_NUMBER = "+38640000000"


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["today available", "/today available", "!today available",
                                  "/today@MyDeskBot available", "  TODAY   Available "])
def test_parse_takes_an_optional_slash_or_bang_prefix_and_telegrams_bot_mention(text):
    assert bot.parse(text) == bot.Command("set", day="today", status="available")


@pytest.mark.parametrize(("text", "day", "status"), [
    ("tomorrow maybe", "tomorrow", "maybe"),
    ("2030-01-31 looking", "2030-01-31", "looking"),
    ("!2030-01-31 clear", "2030-01-31", None),
    ("2030-02-30 available", "2030-02-30", "available"),  # looks like a date: the API judges it
    ("available tomorrow", "tomorrow", "available"),
    ("/avail tomorrow no", "tomorrow", "not_available"),
])
def test_parse_reads_today_tomorrow_and_iso_dates_with_a_status_or_clear(text, day, status):
    assert bot.parse(text) == bot.Command("set", day=day, status=status)


@pytest.mark.parametrize(("text", "status"), [("maybe", "maybe"), ("/looking", "looking"),
                                              ("not available", "not_available"), ("not_available", "not_available"),
                                              ("no", "not_available"), ("yes", "available"), ("clear", None)])
def test_parse_a_bare_status_or_alias_means_today(text, status):
    assert bot.parse(text) == bot.Command("set", day="today", status=status)


@pytest.mark.parametrize("text", ["!link K7QF2M9X", "/link@MyDeskBot K7QF2M9X", "link K7QF 2M9X"])
def test_parse_link_takes_the_code(text):
    assert bot.parse(text) == bot.Command("link", code="K7QF2M9X")


@pytest.mark.parametrize(("text", "said"), [("in", "in"), ("!in", "in"), ("late 15", "late 15"),
                                            ("/late 20", "late 20"), ("Late +15 min", "late +15 min"),
                                            ("can't", "can't"), ("can\u2019t", "can't"), ("cant.", "cant"),
                                            ("answer late 5", "late 5"), ("late", "late")])
def test_parse_passes_a_reminders_answer_on_as_typed(text, said):
    assert bot.parse(text) == bot.Command("answer", answer=said)


@pytest.mark.parametrize(("text", "problem"), [
    ("", ""), ("/start", ""), ("help", ""), ("/help@MyDeskBot", ""),
    ("hello there", "hello there"), ("today fabulous", "fabulous"), ("/link", "code"), ("tomorrow", "status"),
    ("2030/01/31 available", "2030/01/31"),
])
def test_parse_unknown_or_incomplete_input_is_help_saying_what_was_wrong(text, problem):
    command = bot.parse(text)
    assert command.action == "help"
    assert problem in command.problem and bool(command.problem) == bool(problem)


def test_the_example_bot_talks_http_only_and_imports_nothing_from_webapp():
    tree = ast.parse(BOT_PATH.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "webapp" not in imported
    assert imported - set(sys.stdlib_module_names) == {"requests", "cryptography"}


# -- the API client, against a fake desk --------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"error": "link_code_invalid", "message": "This link code is unknown."},  # what the desk answers
    {"error": {"code": "link_code_invalid", "message": "This link code is unknown."}},
])
def test_client_turns_an_error_answer_into_a_desk_error_with_code_and_message(httpserver, body):
    httpserver.expect_request("/api/v1/link/confirm", method="POST",
                              headers={"Authorization": "Bearer pdb_test"}).respond_with_json(body, status=404)
    with pytest.raises(bot.DeskError) as caught:
        bot.DeskClient(httpserver.url_for("/api/v1/"), "pdb_test").link("signal", "u-1", "K7QF2M9X")
    assert (caught.value.code, caught.value.message, caught.value.status) == \
        ("link_code_invalid", "This link code is unknown.", 404)


def test_client_maps_a_non_json_failure_and_an_unreachable_desk_to_desk_errors(httpserver):
    httpserver.expect_request("/api/v1/availability").respond_with_data("Bad gateway", status=502)
    with pytest.raises(bot.DeskError) as caught:
        bot.DeskClient(httpserver.url_for("/"), "pdb_test").set_availability("signal", "u-1", "today", None)
    assert caught.value.code == "http_502"
    with pytest.raises(bot.DeskError) as caught:
        bot.DeskClient("http://127.0.0.1:9", "pdb_test", timeout=2).set_availability("signal", "u-1", "today", None)
    assert caught.value.code == "unreachable"


def test_telegram_poll_skips_updates_without_text_and_moves_the_offset_past_them(httpserver):
    httpserver.expect_request(f"/bot{TELEGRAM_TOKEN}/getUpdates").respond_with_json({"ok": True, "result": [
        {"update_id": 7, "message": {"message_id": 1, "from": {"id": 5}, "chat": {"id": 5}, "sticker": {}}},
        {"update_id": 8, "edited_message": {"message_id": 1, "text": "today available"}},
    ]})
    client = bot.DeskClient("http://127.0.0.1:9", "pdb_test")
    assert bot.telegram_poll_once(client, httpserver.url_for("/"), TELEGRAM_TOKEN, 3) == 9
    assert httpserver.log[0][0].args["offset"] == "3"
    assert len(httpserver.log) == 1  # nothing was sent


def test_main_without_a_known_adapter_prints_the_usage_and_exits_2(capsys):
    assert bot.main([]) == 2
    assert bot.main(["irc"]) == 2
    usage = capsys.readouterr().err
    assert all(name in usage for name in ("telegram", "signal", "discord", "DESK_URL", "DESK_BOT_TOKEN"))


# -- Discord's interactions endpoint --------------------------------------------------------------


class DiscordEndpoint:
    """The bot's interactions endpoint on a free port, and Discord's side: requests signed with the app key."""

    def __init__(self, client: Any) -> None:
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), bot.discord_handler(client, public))
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="discord-endpoint",
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/interactions"

    def post(self, interaction: dict[str, Any], *, key: Ed25519PrivateKey | None = None,
             tamper: bool = False, age: int = 0) -> requests.Response:
        body = json.dumps(interaction).encode()
        timestamp = str(int(time.time()) - age)
        signature = (key or self.key).sign(timestamp.encode() + body).hex()
        if tamper:
            body = body.replace(b'"type": 1', b'"type": 2')
        return requests.post(self.url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def discord_endpoint() -> Iterator[Callable[[Any], DiscordEndpoint]]:
    started: list[DiscordEndpoint] = []

    def start(client: Any) -> DiscordEndpoint:
        started.append(DiscordEndpoint(client))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.close()


def test_discord_endpoint_answers_a_signed_ping_with_type_1(discord_endpoint):
    endpoint = discord_endpoint(bot.DeskClient("http://127.0.0.1:9", "pdb_test"))
    answer = endpoint.post({"type": 1, "id": "1", "application_id": "2"})
    assert answer.status_code == 200 and answer.json() == {"type": 1}


def test_discord_endpoint_refuses_a_bad_or_missing_signature_with_401(discord_endpoint):
    endpoint = discord_endpoint(bot.DeskClient("http://127.0.0.1:9", "pdb_test"))
    ping = {"type": 1, "id": "1", "application_id": "2"}
    assert endpoint.post(ping, tamper=True).status_code == 401
    assert endpoint.post(ping, key=Ed25519PrivateKey.generate()).status_code == 401
    assert requests.post(endpoint.url, json=ping, timeout=10).status_code == 401
    assert requests.post(endpoint.url, json=ping, timeout=10, headers={
        "X-Signature-Ed25519": "not hex", "X-Signature-Timestamp": "1"}).status_code == 401


def test_discord_endpoint_refuses_a_replayed_request_signed_long_ago(discord_endpoint):
    endpoint = discord_endpoint(bot.DeskClient("http://127.0.0.1:9", "pdb_test"))
    ping = {"type": 1, "id": "1", "application_id": "2"}
    assert endpoint.post(ping, age=bot.DISCORD_MAX_SKEW + 60).status_code == 401  # a valid signature, but old
    assert endpoint.post(ping, age=30).status_code == 200


def test_discord_endpoint_refuses_a_negative_or_odd_content_length(discord_endpoint):
    endpoint = discord_endpoint(bot.DeskClient("http://127.0.0.1:9", "pdb_test"))
    host, port = endpoint.url.split("//")[1].split("/")[0].split(":")
    import socket

    for length in ("-1", "abc"):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
            assert b" 413 " in sock.recv(200)


def test_telegram_errors_are_logged_without_the_bot_token(caplog, httpserver):
    httpserver.expect_request("/botSECRET-TOKEN/getUpdates").respond_with_data("no", status=500)
    with caplog.at_level("WARNING"):
        try:
            bot.telegram_poll_once(bot.DeskClient("http://127.0.0.1:9", "pdb_test"), httpserver.url_for("/"),
                                   "SECRET-TOKEN", 0)
        except requests.RequestException as exc:
            bot.log.warning("telegram getUpdates failed: %s", bot._quiet(exc))
    assert "HTTP 500" in caplog.text and "SECRET-TOKEN" not in caplog.text


# -- the real desk on a real port ---------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_only(backend: str) -> None:
    """Requested before `app`, so the PostgreSQL run is skipped before its app is built."""
    if backend.startswith("postgresql"):
        pytest.skip("the bot talks to a live server: runs once, on SQLite")


@dataclass
class Desk:
    url: str
    token: str
    workspace_id: int
    client: Any
    db: Any
    factories: Any

    @property
    def today(self) -> date:
        return night_settings.local_today(self.db.session.get(Workspace, self.workspace_id))

    def member(self, email: str, name: str = "Jana") -> Any:
        """A member with a player profile, not linked to any chat account yet."""
        actor = self.factories.user("viewer", "Acme", email=email)
        players.save_profile(actor, players.PlayerCommand(display_name=name, aliases=[]))
        return actor

    def link_code(self, actor: Any) -> str:
        return players.new_link_code(actor)[0]

    def availability(self, user_id: int) -> dict[date, str]:
        self.db.session.rollback()  # see what the live server committed
        rows = self.db.session.execute(select(Availability.day, Availability.status).where(
            Availability.workspace_id == self.workspace_id, Availability.user_id == user_id))
        return {day: status.value for day, status in rows}

    def contact(self, user_id: int) -> Contact | None:
        self.db.session.rollback()
        return self.db.session.scalar(select(Contact).where(Contact.user_id == user_id))


@pytest.fixture
def desk(_sqlite_only: None, app: Any, db: Any, factories: Any) -> Iterator[Desk]:
    """The test app on 127.0.0.1:<free port> (the pattern of tests/e2e/conftest.py), with a bot token."""
    from werkzeug.serving import make_server

    admin = factories.user("admin", "Acme", email="boss@example.com")
    token = night_settings.rotate_bot_token(admin)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="bot-live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    client = bot.DeskClient(url, token)
    try:
        yield Desk(url, token, admin.workspace_id, client, db, factories)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class TelegramChat:
    """A fake Telegram Bot API: each `say` is one getUpdates batch; returns what the bot sent."""

    channel = "telegram"

    def __init__(self, httpserver: Any, client: Any, target_template: str = "") -> None:
        self.httpserver, self.client, self.target_template = httpserver, client, target_template
        self.offset, self.update_id = 0, 500

    def identity(self, n: int) -> str:
        return str(700_000 + n)

    def say(self, identity: str, text: str) -> str:
        self.update_id += 1
        message = {"message_id": self.update_id, "date": 0, "text": text,
                   "chat": {"id": int(identity), "type": "private"},
                   "from": {"id": int(identity), "is_bot": False, "first_name": "Jana"}}
        self.httpserver.clear_log()
        self.httpserver.expect_oneshot_request(f"/bot{TELEGRAM_TOKEN}/getUpdates").respond_with_json(
            {"ok": True, "result": [{"update_id": self.update_id, "message": message}]})
        self.httpserver.expect_oneshot_request(f"/bot{TELEGRAM_TOKEN}/sendMessage", method="POST").respond_with_json(
            {"ok": True, "result": {"message_id": 1}})
        asked_from = self.offset
        self.offset = bot.telegram_poll_once(self.client, self.httpserver.url_for("/"), TELEGRAM_TOKEN, self.offset,
                                             target_template=self.target_template)
        self.httpserver.check_assertions()
        (poll, _), (send, _) = self.httpserver.log
        assert poll.args["offset"] == str(asked_from) and self.offset == self.update_id + 1
        sent = send.get_json()
        assert sent["chat_id"] == int(identity) and sent["parse_mode"] == "HTML"
        return sent["text"]


class SignalChat:
    """A fake signal-cli-rest-api: each `say` is one receive; returns what the bot sent."""

    channel = "signal"

    def __init__(self, httpserver: Any, client: Any) -> None:
        self.httpserver, self.client = httpserver, client

    def identity(self, n: int) -> str:
        return f"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0{n:02d}"

    def say(self, identity: str, text: str) -> str:
        number = f"+386401{identity[-2:]}000"
        envelope = {"source": number, "sourceNumber": number, "sourceUuid": identity, "sourceDevice": 1,
                    "timestamp": 1, "dataMessage": {"timestamp": 1, "message": text, "expiresInSeconds": 0}}
        self.httpserver.clear_log()
        self.httpserver.expect_oneshot_request(f"/v1/receive/{SIGNAL_NUMBER}", method="GET").respond_with_json(
            [{"envelope": envelope, "account": SIGNAL_NUMBER}])
        self.httpserver.expect_oneshot_request("/v2/send", method="POST").respond_with_json(
            {"timestamp": "1"}, status=201)
        assert bot.signal_receive_once(self.client, self.httpserver.url_for("/"), SIGNAL_NUMBER) == 1
        self.httpserver.check_assertions()
        sent = self.httpserver.log[-1][0].get_json()
        assert sent["number"] == SIGNAL_NUMBER and sent["recipients"] == [number]
        return sent["message"]


class DiscordChat:
    """Discord calling the bot's interactions endpoint with /link and /avail; returns the bot's answer."""

    channel = "discord"

    def __init__(self, endpoint: DiscordEndpoint) -> None:
        self.endpoint = endpoint

    def identity(self, n: int) -> str:
        return str(80_000_000_000_000_000 + n)

    def say(self, identity: str, text: str) -> str:
        word, *rest = text.split()
        if word in ("in", "late", "can't", "cant"):
            data = {"name": "answer", "type": 1, "options": [{"name": "reply", "type": 3, "value": text}]}
        elif word == "link":
            data = {"name": "link", "type": 1, "options": [{"name": "code", "type": 3, "value": " ".join(rest)}]}
        else:
            data = {"name": "avail", "type": 1, "options": [{"name": "day", "type": 3, "value": word},
                                                            {"name": "status", "type": 3, "value": " ".join(rest)}]}
        answer = self.endpoint.post({"type": 2, "id": "9", "application_id": "2", "token": "t", "data": data,
                                     "guild_id": "3", "member": {"user": {"id": identity, "username": "jana"}}})
        assert answer.status_code == 200
        body = answer.json()
        assert body["type"] == 4 and body["data"]["flags"] == 64 and body["data"]["allowed_mentions"] == {"parse": []}
        return body["data"]["content"]


@pytest.fixture(params=["telegram", "signal", "discord"])
def chat(request: pytest.FixtureRequest, desk: Desk, httpserver: Any, discord_endpoint: Any) -> Any:
    if request.param == "telegram":
        return TelegramChat(httpserver, desk.client)
    if request.param == "signal":
        return SignalChat(httpserver, desk.client)
    return DiscordChat(discord_endpoint(desk.client))


def test_a_member_links_with_a_code_then_sets_changes_and_clears_availability(chat, desk):
    jana = desk.member("jana@example.com", "Jana")
    me = chat.identity(1)

    assert "Jana" in chat.say(me, f"link {desk.link_code(jana)}")
    contact = desk.contact(jana.user_id)
    assert contact is not None and contact.confirmed_at is not None
    assert (contact.channel.value, contact.external_id) == (chat.channel, me)

    today, tomorrow = desk.today, desk.today + timedelta(days=1)
    assert "available" in chat.say(me, "today available")
    assert desk.availability(jana.user_id) == {today: "available"}
    assert "maybe" in chat.say(me, "tomorrow maybe")
    assert desk.availability(jana.user_id) == {today: "available", tomorrow: "maybe"}
    assert "looking" in chat.say(me, "today looking")
    assert desk.availability(jana.user_id) == {today: "looking", tomorrow: "maybe"}
    assert "Cleared" in chat.say(me, f"{tomorrow.isoformat()} clear")
    assert desk.availability(jana.user_id) == {today: "looking"}


def test_an_identity_nobody_linked_is_told_to_get_a_link_code_from_the_profile_page(chat, desk):
    reply = chat.say(chat.identity(2), "today available")
    assert "not linked" in reply and "profile page" in reply and "link code" in reply
    howto = {"telegram": "<code>/link CODE</code>", "signal": "link CODE", "discord": "`/link code:CODE`"}
    assert howto[chat.channel] in reply
    desk.db.session.rollback()
    assert desk.db.session.scalar(select(Availability)) is None


def test_the_desks_refusals_reach_the_member_as_its_own_message(chat, desk, factories):
    bor = factories.player(desk.workspace_id, "bor@example.com", status=None, channel=chat.channel,
                           external_id=chat.identity(3))
    jana = desk.member("jana@example.com")

    assert "unknown, used or expired" in chat.say(chat.identity(4), "link ZZZZ2222")
    # Bor's account cannot be linked to Jana as well.
    assert "already linked to another member" in chat.say(chat.identity(3), f"link {desk.link_code(jana)}")
    assert "YYYY-MM-DD" in chat.say(chat.identity(3), "2030-02-30 available")
    assert "has passed" in chat.say(chat.identity(3), "2001-01-01 available")
    assert "fabulous" in chat.say(chat.identity(3), "today fabulous")  # the bot's own help, before any call
    assert desk.availability(bor) == {}


ANA = "Ana *<&>_"  # a display name with HTML and markdown specials


@pytest.mark.parametrize(("chat", "linked", "saved", "helped"), [
    pytest.param("telegram", "<b>Ana *&lt;&amp;&gt;_</b>", "<b>available</b>", "<code>/today available</code>",
                 id="telegram-html"),
    pytest.param("discord", r"**Ana \*\<&\>\_**", "**available**", "`/avail status:available`",
                 id="discord-markdown"),
    pytest.param("signal", "Ana *<&>_", "You are available for today", "today available — ", id="signal-plain"),
], indirect=["chat"])
def test_replies_are_formatted_for_the_channel_and_escape_what_members_wrote(chat, desk, linked, saved, helped):
    ana = desk.member("ana@example.com", ANA)
    me = chat.identity(5)

    link_reply = chat.say(me, f"link {desk.link_code(ana)}")
    assert linked in link_reply
    assert saved in chat.say(me, "today available")
    help_reply = chat.say(me, "hello there")
    assert helped in help_reply and "hello there" in help_reply
    if chat.channel == "signal":  # plain text: no markup at all
        assert not any(mark in link_reply + help_reply for mark in ("<b>", "**", "<code>", "`"))


def test_telegram_link_sends_the_delivery_target_made_from_the_template(desk, httpserver):
    chat = TelegramChat(httpserver, desk.client, target_template="json://relay.example/hook/{external_id}")
    eva = desk.member("eva@example.com", "Eva")
    chat.say(chat.identity(6), f"/link@MyDeskBot {desk.link_code(eva)}")
    contact = desk.contact(eva.user_id)
    assert contact is not None and contact.target_hint == f"json://…{chat.identity(6)[-4:]}"


def test_the_console_adapter_prints_one_plain_reply_per_line(desk, factories):
    factories.player(desk.workspace_id, "cene@example.com", status=None, channel="signal", external_id="cene-uuid")
    printed: list[str] = []
    bot.console_loop(desk.client, "signal", "cene-uuid", ["maybe\n", "\n", "tomorrow no\n"], printed.append)
    assert printed == [f"You are maybe for today ({desk.today}).",
                       f"You are not available for tomorrow ({desk.today + timedelta(days=1)})."]


def test_a_member_answers_the_reminder_in_late_and_cant_through_the_bot(chat, desk, factories):
    me = chat.identity(7)
    jana = factories.player(desk.workspace_id, "jana@example.com", channel=chat.channel, external_id=me)
    assert "available" in chat.say(me, "in")  # no game night yet: today's status, as before
    promoter = factories.user("promoter", "Acme", email="promoter@example.com")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))

    def answer() -> tuple[str, int | None]:
        desk.db.session.rollback()
        row = desk.db.session.get(CampaignAnswer, (campaign.id, jana))
        return row.answer.value, row.late_minutes

    assert "in" in chat.say(me, "in") and answer() == ("in", None)
    assert "15" in chat.say(me, "late 15") and answer() == ("late", 15)
    assert "the minutes" in chat.say(me, "late")  # the desk's own words
    assert "no more messages" in chat.say(me, "can't") and answer() == ("cant", None)
    assert "answered that already" in chat.say(me, "can't")
    assert "cannot come" in chat.say(me, "in")  # the desk's 409, as its message
    assert desk.availability(jana) == {desk.today: "not_available"}
