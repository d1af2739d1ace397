"""A strict fake of the Discord REST API endpoints a bot uses for a planning room's thread, on pytest-httpserver.

It holds channels, messages and threads the way Discord does and checks every request against Discord's
documented contract: `Authorization: Bot <token>` (else 401), a `DiscordBot (url, version)` User-Agent, a JSON
body with `Content-Type: application/json`, no unknown fields, a message's content of 1 to 2000 characters and a
nonce of at most 25, a thread's name of 1 to 100 characters and a documented auto-archive duration (else 400 with
code 50035). It behaves like Discord where that matters for exactly-once: a message with a nonce it saw (with
`enforce_nonce`) is answered with the earlier message and not made again; a second thread on one message is 400
code 160004; a thread started from a message has the message's id. Any request it refused for its form is kept in
`violations` (a test asserts there are none).

Switches, each for the next `times` calls of an endpoint (`create_message`, `start_thread`, `get_channel`):
`rate_limit(...)` answers 429 with `Retry-After` and a JSON `retry_after`; `fail(..., after=True)` answers a 5xx
after doing the work (the answer is lost, the effect is not), `after=False` before it; `slow(...)` does the work
and then holds the answer up to `seconds` (a client's timeout fires after its request arrived); `release()` lets
held answers go. Run it on a threaded server (`serve()`), so that a held answer delays no other request.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

BOT_TOKEN = "MTA0OTU4MzcyNDAxNTM3NDMzNg.GfakeX.fake-bot-token-for-the-tests_0123456789"
GUILD_ID = "1049583000000000001"
CHANNEL_ID = "1049583724015374336"
API_PREFIX = "/api/v10"
USER_AGENT = re.compile(r"DiscordBot \(\S+, [0-9][\w.+-]*\)")
ARCHIVE_DURATIONS = {60, 1440, 4320, 10080}
MESSAGE_FIELDS = {"content", "nonce", "enforce_nonce", "allowed_mentions", "tts", "flags"}
THREAD_FIELDS = {"name", "auto_archive_duration", "rate_limit_per_user"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def _invalid(errors: dict[str, str]) -> Response:
    return _json({"message": "Invalid Form Body", "code": 50035,
                  "errors": {k: {"_errors": [{"code": "BASE_TYPE_BAD", "message": v}]} for k, v in errors.items()}},
                 400)


@dataclass
class Switch:
    kind: str  # rate_limit | fail | slow
    times: int
    status: int = 500
    after: bool = True
    retry_after: float = 1.0
    seconds: float = 0.0


@dataclass
class Call:
    endpoint: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class FakeDiscordAPI:
    server: HTTPServer
    token: str = BOT_TOKEN
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel or thread id → messages
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    switches: dict[str, list[Switch]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._released = threading.Event()
        self.holding = threading.Event()  # a `slow` answer is being held (its request arrived, the work is done)
        self._ids = itertools.count(1049600000000000000)
        self._nonces: dict[tuple[str, str], dict[str, Any]] = {}
        self.channels[CHANNEL_ID] = {"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "name": "game-nights"}
        self.server.expect_request(re.compile(rf"^{API_PREFIX}/.*")).respond_with_handler(self._dispatch)

    @property
    def base(self) -> str:
        return self.server.url_for(API_PREFIX)

    # -- switches ---------------------------------------------------------------------------------

    def rate_limit(self, endpoint: str, retry_after: float = 1.0, times: int = 1) -> None:
        self.switches.setdefault(endpoint, []).append(Switch("rate_limit", times, retry_after=retry_after))

    def fail(self, endpoint: str, status: int = 500, *, after: bool = True, times: int = 1) -> None:
        self.switches.setdefault(endpoint, []).append(Switch("fail", times, status=status, after=after))

    def slow(self, endpoint: str, seconds: float, times: int = 1) -> None:
        self.switches.setdefault(endpoint, []).append(Switch("slow", times, seconds=seconds))

    def release(self) -> None:
        self._released.set()

    def _switch(self, endpoint: str) -> Switch | None:
        pending = self.switches.get(endpoint) or []
        if not pending:
            return None
        switch = pending[0]
        switch.times -= 1
        if switch.times <= 0:
            pending.pop(0)
        return switch

    # -- what a test reads ------------------------------------------------------------------------

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def channel_messages(self, channel_id: str = CHANNEL_ID) -> list[dict[str, Any]]:
        return self.messages.get(channel_id, [])

    # -- the API ----------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        path = request.path[len(API_PREFIX):]
        routes = [
            ("POST", re.compile(r"/channels/(\d+)/messages"), "create_message", self._create_message),
            ("POST", re.compile(r"/channels/(\d+)/messages/(\d+)/threads"), "start_thread", self._start_thread),
            ("GET", re.compile(r"/channels/(\d+)"), "get_channel", self._get_channel),
        ]
        for method, pattern, endpoint, handle in routes:
            match = pattern.fullmatch(path)
            if match and request.method == method:
                call = Call(endpoint, request.method, path, dict(request.headers), None)
                self.calls.append(call)
                answer = self._checked(request, call, endpoint, handle, match.groups())
                call.status = answer.status_code
                return answer
        self.violations.append(f"no such endpoint: {request.method} {path}")
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _checked(self, request: Request, call: Call, endpoint: str, handle: Any, ids: tuple[str, ...]) -> Response:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if not USER_AGENT.fullmatch(request.headers.get("User-Agent", "")):
            self.violations.append(f"{endpoint}: User-Agent {request.headers.get('User-Agent')!r}")
            return _json({"message": "a bot's User-Agent is 'DiscordBot ($url, $versionNumber)'", "code": 0}, 400)
        if request.method == "POST":
            if request.mimetype != "application/json":
                self.violations.append(f"{endpoint}: Content-Type {request.content_type!r}")
                return _json({"message": "Cannot send an empty message", "code": 50006}, 400)
            try:
                call.body = json.loads(request.get_data(as_text=True))
            except ValueError:
                self.violations.append(f"{endpoint}: body is not JSON")
                return _json({"message": "400: Bad Request", "code": 0}, 400)
            if not isinstance(call.body, dict):
                self.violations.append(f"{endpoint}: body is not an object")
                return _invalid({"_body": "must be an object"})
        switch = self._switch(endpoint)
        if switch is not None and switch.kind == "rate_limit":
            return _json({"message": "You are being rate limited.", "retry_after": switch.retry_after,
                          "global": False}, 429,
                         {"Retry-After": str(int(switch.retry_after + 0.999)), "X-RateLimit-Scope": "user"})
        if switch is not None and switch.kind == "fail" and not switch.after:
            return Response("upstream connect error", status=switch.status)
        answer = handle(call.body, *ids)
        if switch is not None and switch.kind == "fail":
            return Response("upstream request timeout", status=switch.status)  # the work is done, the answer lost
        if switch is not None and switch.kind == "slow":
            self.holding.set()
            self._released.wait(switch.seconds)
        return answer

    def _create_message(self, body: dict[str, Any], channel_id: str) -> Response:
        errors = {}
        unknown = set(body) - MESSAGE_FIELDS
        if unknown:
            errors["_body"] = f"unknown fields {sorted(unknown)}"
        content = body.get("content")
        if not isinstance(content, str) or not 1 <= len(content) <= 2000:
            errors["content"] = "Must be between 1 and 2000 in length."
        nonce = body.get("nonce")
        if nonce is not None and not (isinstance(nonce, int) or (isinstance(nonce, str) and len(nonce) <= 25)):
            errors["nonce"] = "Must be an integer or a string of at most 25 characters."
        if "enforce_nonce" in body and not isinstance(body["enforce_nonce"], bool):
            errors["enforce_nonce"] = "Must be a boolean."
        if "allowed_mentions" in body and not isinstance(body["allowed_mentions"], dict):
            errors["allowed_mentions"] = "Must be an object."
        if errors:
            self.violations.append(f"create_message: {errors}")
            return _invalid(errors)
        if channel_id not in self.channels and channel_id not in self.threads:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonces.get((channel_id, str(nonce)))
            if earlier is not None:
                return _json(earlier)  # Discord: the earlier message, none made
        message = {"id": str(next(self._ids)), "channel_id": channel_id, "content": content, "nonce": nonce,
                   "type": 0, "author": {"id": "1049583724015374000", "username": "desk-bot", "bot": True},
                   "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}
        self.messages.setdefault(channel_id, []).append(message)
        if nonce is not None and body.get("enforce_nonce"):
            self._nonces[(channel_id, str(nonce))] = message
        return _json(message)

    def _start_thread(self, body: dict[str, Any], channel_id: str, message_id: str) -> Response:
        errors = {}
        unknown = set(body) - THREAD_FIELDS
        if unknown:
            errors["_body"] = f"unknown fields {sorted(unknown)}"
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors["name"] = "Must be between 1 and 100 in length."
        if "auto_archive_duration" in body and body["auto_archive_duration"] not in ARCHIVE_DURATIONS:
            errors["auto_archive_duration"] = f"Must be one of {sorted(ARCHIVE_DURATIONS)}."
        if errors:
            self.violations.append(f"start_thread: {errors}")
            return _invalid(errors)
        channel = self.channels.get(channel_id)
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        if not any(m["id"] == message_id for m in self.messages.get(channel_id, [])):
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if message_id in self.threads:
            return _json({"message": "A thread has already been created for this message", "code": 160004}, 400)
        thread = {"id": message_id, "type": 11, "guild_id": channel["guild_id"], "parent_id": channel_id,
                  "name": name, "owner_id": "1049583724015374000", "message_count": 0, "member_count": 1,
                  "thread_metadata": {"archived": False, "locked": False,
                                      "auto_archive_duration": body.get("auto_archive_duration", 4320)}}
        self.threads[message_id] = thread
        return _json(thread, 201)

    def _get_channel(self, body: Any, channel_id: str) -> Response:
        found = self.threads.get(channel_id) or self.channels.get(channel_id)
        return _json(found) if found else _json({"message": "Unknown Channel", "code": 10003}, 404)


@contextmanager
def serve() -> Iterator[FakeDiscordAPI]:
    """The fake on its own threaded server, stopped (held answers released) at the end."""
    server = HTTPServer(threaded=True)
    server.start()
    fake = FakeDiscordAPI(server)
    try:
        yield fake
    finally:
        fake.release()
        server.clear()
        server.stop()
