"""Drills: a channel that takes the message and then answers late (or never) gets it exactly once.

For each channel kind we ship — JSON (Apprise `json://`), webhooks, Discord (`discord://`), Telegram (`tgram://`)
and e-mail over SMTP (`mailto://`) — the receiving end reads the whole request, records it, and holds its answer
past the client's timeout. The ledger (or the outbox) must say `unknown`, the member's second channel must stay
silent, and no later run, retry or reconcile may send it again. The other side: a send that provably never
arrived (connection refused, a 429, a 4xx refusal) is retried later or falls back to the next channel.

Discord and Telegram are the real Apprise plugins posting to https://discord.com and https://api.telegram.org;
those two hosts are routed to a local TLS server on 127.0.0.1 with a certificate made for them here, which
answers like the real APIs. No traffic leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import socketserver
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from tests.drills.report import drill
from tests.sink import Served, Sink
from webapp.extensions import utcnow
from webapp.notify import contacts, delivery
from webapp.notify.models import Channel, Contact, Delivery, DeliveryStatus, Preference, SendLog
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks import services as webhooks

TIMEOUT = 0.5  # the client's timeout in these drills; a stalled answer is held far longer
PROVIDERS = ("discord.com", "api.telegram.org")
DISCORD_URL = "discord://123456789012345678/abcdefghijklmnopqrstuvwxyz_ABCDEF-0123456789"
TELEGRAM_TOKEN = "123456789:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"
TELEGRAM_CHAT = 4242
NOON = dt.time(12, 0)


# -- the far ends --------------------------------------------------------------------------------------------


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the providers' host names: the client trusts it as its CA bundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "promotion-desk test providers")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in PROVIDERS]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "providers.pem", directory / "providers.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class ChatAPI(Served):
    """Discord's webhook endpoint and Telegram's Bot API over TLS, as strict as their documented answers.

    `mode` is "ok", "stall" (read and record the request, then hold the answer) or an HTTP status to refuse with
    (recorded as refused, not as a post). `posts` are the requests taken: (host, path, JSON body)."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.mode: str | int = "ok"
        self.posts: list[tuple[str, str, dict[str, Any]]] = []
        self.refused = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                host = (self.headers.get("Host") or "").split(":")[0]
                path, _, query = self.path.partition("?")
                status, answer = api._answer(host, path, query, body)
                if status is None:
                    return
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]

    def _answer(self, host: str, path: str, query: str, body: dict[str, Any]) -> tuple[int | None, Any]:
        discord = host == "discord.com" and path.startswith("/api/webhooks/") and path.count("/") == 4
        telegram = host == "api.telegram.org" and path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
        if not (discord or telegram):
            return 404, {"message": "404: Not Found", "code": 0} if discord else {"ok": False, "error_code": 404}
        if discord and not (body.get("content") or body.get("embeds")):
            return 400, {"message": "Cannot send an empty message", "code": 50006}
        if telegram and (body.get("chat_id") != TELEGRAM_CHAT or not body.get("text")):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        if isinstance(self.mode, int):
            with self._lock:
                self.refused += 1
            if telegram:
                return self.mode, {"ok": False, "error_code": self.mode, "description": "Too Many Requests"}
            return self.mode, {"message": "You are being rate limited.", "retry_after": 0.0, "global": False}
        with self._lock:
            self.posts.append((host, path, body))
            number = len(self.posts)
        if self.mode == "stall":
            self._release.wait(10)
            return None, None  # the client gave up long ago; close without an answer
        if telegram:
            return 200, {"ok": True, "result": {"message_id": number, "date": 0, "text": body["text"],
                                                "chat": {"id": TELEGRAM_CHAT, "type": "private"}}}
        if "wait=true" in query:
            return 200, {"id": str(number), "type": 0, "channel_id": "1", "content": body.get("content", "")}
        return 204, None

    def count(self, host: str) -> int:
        with self._lock:
            return sum(1 for h, _, _ in self.posts if h == host)


class SMTPServer(Served):
    """Enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT. `mode` "ok" answers 250 after DATA, "stall" takes
    the whole message and then never replies, "refuse" answers 451 to the end of DATA (nothing is taken)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.messages: list[bytes] = []
        self._release = threading.Event()
        self._lock = threading.Lock()
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 127.0.0.1 test ESMTP")
                while line := self.rfile.readline():
                    verb = line.decode(errors="replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-127.0.0.1")
                        self.reply("250 8BITMIME")
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        message = b""
                        while (chunk := self.rfile.readline()) and chunk != b".\r\n":
                            message += chunk
                        if smtp.mode == "refuse":
                            self.reply("451 4.3.0 Try again later")
                            continue
                        with smtp._lock:
                            smtp.messages.append(message)
                        if smtp.mode == "stall":
                            smtp._release.wait(10)
                            return
                        self.reply("250 2.0.0 queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 5.5.2 Command not recognized")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a stalled reply

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def target(self, to: str) -> str:
        return f"mailto://desk@127.0.0.1:{self.port}?from=desk@example.com&to={to}"

    def count(self) -> int:
        with self._lock:
            return len(self.messages)


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture
def fast(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = replace(app.config["SETTINGS"], DELIVERY_TIMEOUT_SECONDS=TIMEOUT, WEBHOOK_TIMEOUT_SECONDS=TIMEOUT,
                       DELIVERY_BACKOFF_SECONDS=0.0)
    monkeypatch.setitem(app.config, "SETTINGS", settings)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def routes(monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]) -> dict[str, int]:
    """discord.com:443 and api.telegram.org:443 → 127.0.0.1:<the port set here>; any other host but 127.0.0.1
    is refused, so a mistake cannot reach the internet. The certificate is the client's CA bundle."""
    table: dict[str, int] = {}
    real = urllib3.util.connection.create_connection

    def routed(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        if host in PROVIDERS and port == 443 and host in table:
            return real(("127.0.0.1", table[host]), *args, **kwargs)
        if host != "127.0.0.1":
            raise ConnectionRefusedError(f"the drills talk only to 127.0.0.1, not {host}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", routed)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return table


@pytest.fixture
def chat(routes: dict[str, int], certificate: tuple[Path, Path]) -> Iterator[ChatAPI]:
    with ChatAPI(*certificate) as api:
        routes.update(dict.fromkeys(PROVIDERS, api.port))
        yield api


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


# -- helpers -------------------------------------------------------------------------------------------------


def member(db: Any, factories: Any, ws: int, email: str, first: tuple[str, str], second: tuple[str, str] | None) -> int:
    """A member reached first through `first` (channel, Apprise URL), then `second`, in that order."""
    user_id = factories.player(ws, email, channel=first[0], target=first[1])
    order = [first[0]]
    if second is not None:
        contact = Contact(workspace_id=ws, user_id=user_id, channel=Channel(second[0]), external_id=f"{email}-2",
                          confirmed_at=utcnow())
        contacts.set_target(contact, second[1])
        db.session.add(contact)
        order.append(second[0])
    db.session.get(Preference, (ws, user_id)).channel_order = order
    db.session.commit()
    return user_id


def run(ws: int, user_id: int, key: str) -> Counter[DeliveryStatus]:
    message = delivery.Message(key=key, user_id=user_id, title="Game night", body="We start at 21:00.")
    return delivery.deliver(ws, "drill", 1, [message], local_time=NOON, dry_run=False)


def row(db: Any, key: str) -> Delivery:
    db.session.expire_all()
    return db.session.scalars(select(Delivery).where(Delivery.key == key)).one()


def later_runs_send_nothing(db: Any, ws: int, user_id: int, key: str) -> None:
    """A later run of the same job, the reconciler, and closing the source for good: none claims it again."""
    assert run(ws, user_id, key) == Counter()
    outbox.reconcile()
    delivery.settle_source("drill", 1, utcnow() + delivery.lease() * 2)
    assert run(ws, user_id, key) == Counter()
    assert row(db, key).status is DeliveryStatus.unknown


def stalled(db: Any, ws: int, user_id: int, key: str, arrived: Any, backup: Sink, name: str) -> None:
    """Send once to a channel that stalls, then try everything that could send it again; the drill line."""
    assert run(ws, user_id, key) == Counter({DeliveryStatus.unknown: 1})
    found = row(db, key)
    assert found.attempts == 1 and found.finished_at is not None
    later_runs_send_nothing(db, ws, user_id, key)
    logs = db.session.scalars(select(SendLog).where(SendLog.delivery_id == found.id)).all()
    assert [log.status for log in logs] == ["unknown"]
    assert "may have reached" in (logs[0].error or "")
    delivered = arrived() + len(backup.received("backup"))
    assert arrived() == 1 and backup.received("backup") == []  # exactly one post, no fallback
    drill(name, lost=max(0, 1 - delivered), duplicated=max(0, delivered - 1))


# -- a channel that takes it and then stalls: exactly once, `unknown` ------------------------------------------


def test_a_json_channel_that_takes_the_post_and_stalls_gets_it_once_and_the_ledger_says_unknown(
        db, factories, fast, sink):
    ws = factories.user("promoter").workspace_id
    sink.stalling.add("slow")
    who = member(db, factories, ws, "json@example.com", ("discord", sink.target("slow")),
                 ("telegram", sink.target("backup")))
    stalled(db, ws, who, "drill:json:1", lambda: len(sink.received("slow")), sink, "JSON accepts then stalls")
    assert sink.received("slow")[0]["key"] == "drill:json:1"


def test_a_json_channel_that_answers_500_after_the_body_is_unknown_and_does_not_fall_back(db, factories, fast, sink):
    ws = factories.user("promoter").workspace_id
    sink.answers["broken"] = 500
    who = member(db, factories, ws, "five@example.com", ("discord", sink.target("broken")),
                 ("telegram", sink.target("backup")))
    stalled(db, ws, who, "drill:json:500", lambda: len(sink.received("broken")), sink, "JSON accepts then 500")


def test_discord_through_the_real_plugin_that_takes_the_post_and_stalls_gets_it_once(
        db, factories, fast, sink, chat):
    ws = factories.user("promoter").workspace_id
    chat.mode = "stall"
    who = member(db, factories, ws, "dc@example.com", ("discord", DISCORD_URL), ("telegram", sink.target("backup")))
    stalled(db, ws, who, "drill:discord:1", lambda: chat.count("discord.com"), sink, "Discord accepts then stalls")


def test_telegram_through_the_real_plugin_that_takes_the_post_and_stalls_gets_it_once(
        db, factories, fast, sink, chat):
    ws = factories.user("promoter").workspace_id
    chat.mode = "stall"
    who = member(db, factories, ws, "tg@example.com", ("telegram", f"tgram://{TELEGRAM_TOKEN}/{TELEGRAM_CHAT}"),
                 ("discord", sink.target("backup")))
    stalled(db, ws, who, "drill:telegram:1", lambda: chat.count("api.telegram.org"), sink,
            "Telegram accepts then stalls")


def test_an_smtp_server_that_takes_the_message_and_never_replies_gets_it_once(db, factories, fast, sink, smtp):
    ws = factories.user("promoter").workspace_id
    smtp.mode = "stall"
    who = member(db, factories, ws, "mail@example.com", ("email", smtp.target("mail@example.com")),
                 ("discord", sink.target("backup")))
    stalled(db, ws, who, "drill:email:1", smtp.count, sink, "e-mail accepts then stalls")


def test_a_webhook_endpoint_that_takes_the_post_and_stalls_is_unknown_and_never_posted_again(
        app, db, factories, fast, sink, worker):
    actor = factories.user("admin")
    sink.stalling.add("hook")
    webhooks.create_endpoint(actor, f"http://127.0.0.1:{sink.port}/hook")
    webhooks.emit(actor.workspace_id, "process.promoted", {"process": "p"})
    db.session.commit()
    worker()  # RQ runs it: the post goes out, the answer never comes in time
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver")).one()
    db.session.refresh(effect)
    assert effect.status is EffectStatus.unknown and effect.attempts == 1
    assert "may have received it" in effect.last_error and "/hook" not in effect.last_error
    assert outbox.reconcile()["revived"] == 0
    outbox.enqueue_ids([effect.id])  # a duplicate job, e.g. after a restart
    worker(with_scheduler=True)
    assert outbox.run_effect(effect.id) == "unknown"
    db.session.refresh(effect)
    assert effect.status is EffectStatus.unknown and effect.attempts == 1
    arrived = len(sink.received("hook"))
    assert arrived == 1
    drill("webhook accepts then stalls", lost=max(0, 1 - arrived), duplicated=max(0, arrived - 1))


def test_an_email_confirmation_to_a_server_that_stalls_is_unknown_and_not_mailed_again(
        app, db, factories, fast, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], MAIL_URL=f"mailto://desk@127.0.0.1:{smtp.port}?from=desk@example.com"))
    smtp.mode = "stall"
    actor = factories.user("viewer")
    contact = contacts.request_email(actor, "new@example.com")
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "notify.email_confirmation")).one()
    assert outbox.run_effect(effect.id) == "unknown"
    assert outbox.run_effect(effect.id) == "unknown"
    outbox.reconcile()
    assert outbox.run_effect(effect.id) == "unknown"
    assert smtp.count() == 1 and b"new@example.com" in smtp.messages[0] and contact.id


# -- provably not arrived: retried later, or the next channel ---------------------------------------------------


def test_a_refused_connection_falls_back_to_the_members_second_channel(db, factories, fast, sink):
    ws = factories.user("promoter").workspace_id
    who = member(db, factories, ws, "down@example.com", ("discord", f"json://127.0.0.1:{closed_port()}/x"),
                 ("telegram", sink.target("backup")))
    assert run(ws, who, "drill:refused:1") == Counter({DeliveryStatus.sent: 1})
    found = row(db, "drill:refused:1")
    assert found.channel == "telegram" and len(sink.received("backup")) == 1
    logs = db.session.scalars(select(SendLog).where(SendLog.delivery_id == found.id).order_by(SendLog.id)).all()
    assert [(log.status, log.channel) for log in logs] == [("channel_failed", "discord"), ("sent", "telegram")]
    assert "never reached the server" in logs[0].error


def test_a_refused_connection_on_the_only_channel_is_retried_and_delivered_once_the_channel_is_back(
        db, factories, fast):
    ws = factories.user("promoter").workspace_id
    port = closed_port()
    who = member(db, factories, ws, "back@example.com", ("discord", f"json://127.0.0.1:{port}/later"), None)
    assert run(ws, who, "drill:back:1") == Counter({DeliveryStatus.retrying: 1})
    with Sink(port=port) as back:
        assert run(ws, who, "drill:back:1") == Counter({DeliveryStatus.sent: 1})
        assert run(ws, who, "drill:back:1") == Counter()
        assert len(back.received("later")) == 1
    assert row(db, "drill:back:1").attempts == 2


def test_a_429_is_retried_on_a_later_run_and_arrives_once(db, factories, fast, sink):
    ws = factories.user("promoter").workspace_id
    sink.failing.add("busy")
    who = member(db, factories, ws, "busy@example.com", ("discord", sink.target("busy")), None)
    assert run(ws, who, "drill:429:1") == Counter({DeliveryStatus.retrying: 1})
    assert sink.received("busy") == []
    sink.failing.clear()
    assert run(ws, who, "drill:429:1") == Counter({DeliveryStatus.sent: 1})
    assert run(ws, who, "drill:429:1") == Counter()
    assert len(sink.received("busy")) == 1


def test_a_4xx_refusal_falls_back_to_the_second_channel(db, factories, fast, sink):
    ws = factories.user("promoter").workspace_id
    sink.answers["gone"] = 404
    who = member(db, factories, ws, "gone@example.com", ("discord", sink.target("gone")),
                 ("telegram", sink.target("backup")))
    assert run(ws, who, "drill:404:1") == Counter({DeliveryStatus.sent: 1})
    assert sink.received("gone") == [] and len(sink.received("backup")) == 1
    assert row(db, "drill:404:1").channel == "telegram"


def test_telegram_refusing_with_400_falls_back_and_discord_answering_normally_is_sent(
        db, factories, fast, sink, chat):
    ws = factories.user("promoter").workspace_id
    who = member(db, factories, ws, "tg400@example.com", ("telegram", f"tgram://{TELEGRAM_TOKEN}/999"),
                 ("discord", DISCORD_URL))
    assert run(ws, who, "drill:tg400:1") == Counter({DeliveryStatus.sent: 1})
    assert chat.count("api.telegram.org") == 0 and chat.count("discord.com") == 1
    assert row(db, "drill:tg400:1").channel == "discord"


def test_discord_rate_limiting_every_attempt_is_retried_later_and_then_arrives_once(db, factories, fast, chat):
    ws = factories.user("promoter").workspace_id
    chat.mode = 429
    who = member(db, factories, ws, "dc429@example.com", ("discord", DISCORD_URL), None)
    assert run(ws, who, "drill:dc429:1") == Counter({DeliveryStatus.retrying: 1})
    assert chat.refused >= 1 and chat.count("discord.com") == 0
    chat.mode = "ok"
    assert run(ws, who, "drill:dc429:1") == Counter({DeliveryStatus.sent: 1})
    assert chat.count("discord.com") == 1


def test_an_smtp_server_that_refuses_the_message_is_retried_and_takes_it_once_later(db, factories, fast, smtp):
    ws = factories.user("promoter").workspace_id
    smtp.mode = "refuse"
    who = member(db, factories, ws, "m451@example.com", ("email", smtp.target("m451@example.com")), None)
    assert run(ws, who, "drill:smtp451:1") == Counter({DeliveryStatus.retrying: 1})
    smtp.mode = "ok"
    assert run(ws, who, "drill:smtp451:1") == Counter({DeliveryStatus.sent: 1})
    assert smtp.count() == 1


def test_a_webhook_endpoint_that_refuses_the_connection_is_retried(app, db, factories, fast):
    actor = factories.user("admin")
    webhooks.create_endpoint(actor, f"http://127.0.0.1:{closed_port()}/hook")
    webhooks.emit(actor.workspace_id, "process.promoted", {"process": "p"})
    db.session.commit()
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver")).one()
    assert outbox.run_effect(effect.id) == "retrying"
    db.session.refresh(effect)
    assert effect.status is EffectStatus.pending and "never reached the server" in effect.last_error


def test_a_planning_announcement_that_stalls_says_unknown_and_is_never_posted_again(app, db, factories, fast, sink,
                                                                                  worker, auth):
    from webapp.accounts import services as accounts
    from webapp.accounts.models import User
    from webapp.gamenight import planning_announcements, planning_rooms, planning_settings
    from webapp.gamenight.models import PlanningRoom, PostStatus

    admin = factories.user("admin", "Acme", email="boss@example.com")
    sink.stalling.add("rooms")
    planning_settings.update_settings(admin, 1, sink.target("rooms"))
    player = factories.player(admin.workspace_id, "p1@example.com", "available", external_id="p-1")
    who = planning_rooms.Member.of(accounts.actor_for_user(db.session.get(User, player), admin.workspace_id))
    created, _ = planning_rooms.create(who)
    worker()
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == planning_announcements.POST_EFFECT)).one()
    db.session.refresh(effect)
    assert effect.status is EffectStatus.unknown
    outbox.reconcile()
    assert outbox.run_effect(effect.id) == "unknown"
    db.session.expire_all()
    assert db.session.get(PlanningRoom, created.id).post_status is PostStatus.unknown
    auth.login("p1@example.com")
    page = auth.get("/planning/today").get_data(as_text=True)
    assert ">unknown</span>" in page and "not posted again" in page
    arrived = len(sink.received("rooms"))
    assert arrived == 1
    drill("planning announcement accepts then stalls", lost=max(0, 1 - arrived), duplicated=max(0, arrived - 1))
