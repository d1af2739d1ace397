"""Every route of the app, with every kind of wrong input a hurried person or a broken script sends:
nothing may answer 500. New routes are swept automatically (the list comes from the URL map)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from flask import request
from sqlalchemy import event
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from tests.urlmap import is_bot_url, one_of_everything, urls
from webapp import commands
from webapp.extensions import db as _db

SESSION_ENDERS = ("/settings/members/<int:user_id>/sign-out", "/account/sign-out-everywhere", "/logout")
SKIPPED_ENDPOINTS = ("static", "rq_dashboard.")  # vendored files; rq-dashboard is tested in test_security
# Each sweep runs as a few tests, one per group of routes, so that pytest-xdist spreads it over the cores (a sweep of
# every route was the suite's longest test by far). A rule belongs to the first group one of whose prefixes it starts
# with; the last group, with no prefixes, takes every rule the others do not, so new routes are still swept.
ROUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "build-rooms": ("/builds/<int:project_id>/rooms",),
    "builds": ("/builds",),
    "api": ("/api/",),
    "processes": ("/processes", "/versions"),
    "people": ("/settings", "/profile", "/account", "/login", "/logout", "/auth", "/contacts", "/workspaces"),
    "the-rest": (),
}
BAD_QUERY = {"page": "-1", "per_page": "0", "old": "x", "new": "", "from": "abc", "since": "yesterday",
             "until": "2026-13-45", "format": "xml", "limit": "many", "action": "%", "resource": ":",
             "q": "%_\\", "area": "x", "highlight": "-5", "x": "1e99", "y": "", "span": "100000",
             "connection_room_id": "abc", "direction": "sideways", "connection_direction": "??", "month": "2026-99",
             "day": "someday", "status": "sleepy", "statuses": "sleepy", "date": "2026-02-30", "start_time": "xx",
             "lead_minutes": "-5", "dry_run": "on", "min_players": "0", "answer": "late 500"}
BAD_FORM = {"name": "x" * 5000, "config": "[1,", "input_schema": '{"type": 5}', "output_schema": "null",
            "environment": "moon", "url": "ftp://nowhere", "workspace_id": "abc", "change_notes": "é" * 10_000,
            "preview_token": "garbage", "based_on": "-3", "email": "not-an-email", "password": "",
            "key": "a b", "attributes": "{", "tags": "a;b", "source_id": "x", "destination_id": "-1",
            "direction": "sideways", "aliases": "A B", "connection_room_id": "9" * 30, "reason": "", "document": "[",
            "day": "2020-01-01", "status": "sleepy", "display_name": "", "quiet_hours": "late", "time_zone": "Mars",
            "game_start": "9pm", "lead_minutes": "-1", "channel_order": "irc", "statuses": "sleepy",
            "start_time": "25:61", "date": "2026-13-01", "idempotency_key": "k" * 500, "dry_run": "maybe",
            "summary_target": "javascript:alert(1)", "team_count": "x", "seed": "1e9", "move": "abc",
            "op": "explode", "planning_threshold": "-1", "post_target": "javascript:", "team_name_0": "x" * 100,
            "player_1": "²", "clear_post_target": "on", "min_players": "-2", "answer": "maybe", "late_minutes": "x"}
BAD_JSON_BODIES = [b"", b"[]", b'"text"', b"{", b'{"config": "not an object"}',
                   b'{"config": {}, "input_schema": "x", "output_schema": []}', b'{"name": 5, "slug": ["a"]}',
                   b'{"change_notes": 5, "preview_token": ["x"]}', b'{"name": ""}', b"\xff\xfe",
                   b'{"name": "X", "rooms": [{"key": 5}], "exits": {}}', b'{"rooms": [null], "exits": [7]}',
                   b'{"connection_room_id": true, "connection_direction": 5}', b'{"reason": ["x"]}',
                   b'{"name": "X", "rooms": [{"key": "a", "name": "A", "tags": "t"}], "entry": {"x": 1}}',
                   b'{"code": 5, "channel": ["x"], "external_id": {}}', b'{"code": "AB", "channel": "discord", "external_id": 4}',
                   b'{"channel": "discord", "external_id": "42", "date": "2026-02-30", "status": "maybe"}',
                   b'{"channel": "discord", "external_id": "42", "date": 5, "status": 7}',
                   b'{"channel": "discord", "external_id": "42", "date": "tomorrow", "status": null}',
                   b'{"statuses": ["maybe", 5], "date": "tomorrow", "start_time": "7pm", "lead_minutes": true}',
                   b'{"statuses": "available", "dry_run": null, "date": [1]}',
                   b'{"source": "voice", "present": [null, 1.5]}', b'{"source": ["voice"], "present": {}}',
                   b'{"teams": [{"name": 5, "players": [true]}], "auto": "yes"}', b'{"suggestion_id": [1], "name": 5}',
                   b'{"auto": true, "team_count": "x", "seed": [], "names": [1]}', b'{"date": "2020-01-01"}',
                   b'{"auto": true, "team_count": 2, "names": [5, null]}', b'{"teams": [{"players": {}}, 3]}']


# The hostile generators: text no encoder takes, numbers int() refuses, dates at and past the calendar's edge,
# zone names that are no zone. Each goes alone into every field the sweep knows (one bad value must not hide the
# handling of another), and all at once.
LONE_SURROGATE = "\ud800"
CESU8_SURROGATE = "%ED%A0%80"  # a lone surrogate as a script percent-encodes it (werkzeug decodes it as U+FFFD)
HUGE_NUMBER = "9" * 5000  # int() refuses more than 4,300 digits
EDGE_DATES = ("0001-01-01", "9999-12-31", "99999999999999999999-01", "0001-01-01T00:30", "9999-12-31T23:59:59-01:00")
DATE_FIELDS = ("date", "day", "month", "since", "until", "from", "start_time")
NUMBER_FIELDS = ("page", "per_page", "old", "new", "from", "limit", "highlight", "x", "y", "span", "connection_room_id",
                 "workspace_id", "based_on", "source_id", "destination_id", "lead_minutes", "team_count", "seed", "move",
                 "planning_threshold", "player_1", "suggestion_id", "game_start", "start_time")
# A refused sign-in or password check writes on purpose: the failure ledger that throttles guessing, and its audit.
FAILURE_LEDGER_URLS = ("/login", "/account/password")
EDGE_NIGHTS = ({"date": "0001-01-01", "day": "0001-01-01", "start_time": "00:30"},  # local → UTC underflows
               {"date": "9999-12-31", "day": "9999-12-31", "start_time": "23:59", "lead_minutes": "240"})
NOT_ZONES = ("abcdefghijklmnopqrst", "9" * 30, HUGE_NUMBER, '{"zone": {"name": ["UTC"]}}', "America", "Europe/Paris/x")


def _keys(body: bytes) -> list[str]:
    try:
        value = json.loads(body)
    except ValueError:
        return []
    return list(value) if isinstance(value, dict) else []


JSON_FIELDS = sorted({key for body in BAD_JSON_BODIES for key in _keys(body)} | {"time_zone", "game_start", "name"})


def _hostile_values(field: str) -> list[str]:
    """What goes into `field` alone (every field gets the huge number all at once)."""
    return [*((HUGE_NUMBER,) if field in NUMBER_FIELDS else ()), *(EDGE_DATES if field in DATE_FIELDS else ()),
            *(NOT_ZONES if "zone" in field else ())]


def _hostile_queries() -> Iterator[str | dict[str, str]]:
    yield {}  # nothing: the path every one-field query follows until it reads its field (see `_due`)
    yield from ({name: value} for name in BAD_QUERY for value in _hostile_values(name))
    yield "&".join(f"{name}={CESU8_SURROGATE}" for name in BAD_QUERY)
    yield {name: HUGE_NUMBER for name in BAD_QUERY}
    yield {name: EDGE_DATES[0] for name in BAD_QUERY}
    yield from EDGE_NIGHTS


def _hostile_forms() -> Iterator[bytes | dict[str, str]]:
    fields = sorted({*BAD_FORM, "time_zone"})
    yield {}  # nothing: the path every one-field form follows until it reads its field (see `_due`)
    yield from ({name: value} for name in fields for value in _hostile_values(name))
    yield "&".join(f"{name}={CESU8_SURROGATE}" for name in fields).encode()
    yield "&".join(f"{name}=\xed\xa0\x80" for name in fields).encode("latin-1")  # raw CESU-8 bytes
    yield {name: HUGE_NUMBER for name in fields}
    yield from EDGE_NIGHTS


def _hostile_json() -> Iterator[bytes | dict[str, Any]]:
    yield b"{}"  # nothing: the path every one-field body follows until it is read (see `_due`)
    for name in JSON_FIELDS:
        for value in (LONE_SURROGATE, *_hostile_values(name)):
            yield {name: value}  # sent with ensure_ascii: the surrogate travels as the text \ud800
        yield {name: {LONE_SURROGATE: [LONE_SURROGATE]}}
    yield json.dumps({LONE_SURROGATE: 1, **{name: LONE_SURROGATE for name in JSON_FIELDS}}).encode()
    yield from (json.dumps(night).encode() for night in EDGE_NIGHTS)
    yield b'{"name": "\xed\xa0\x80"}'  # raw CESU-8 bytes: json.loads reads bytes with surrogatepass
    yield ("{" + ", ".join(f'"{name}": {HUGE_NUMBER}' for name in JSON_FIELDS) + "}").encode()


TOKEN_SEEN = "UPDATE api_tokens SET last_used_at="


@pytest.fixture
def committed_writes(app):
    """How many transactions that wrote (INSERT, UPDATE, DELETE) were committed: a refusal adds none."""
    engine = _db.engine
    state = {"pending": False, "committed": 0}

    def before_execute(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith(TOKEN_SEEN):
            return  # a token's use is noted once a minute whatever its request asked (accounts.touch_token)
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            state["pending"] = True

    def committed(_conn):
        state["committed"] += state["pending"]
        state["pending"] = False

    def rolled_back(_conn):
        state["pending"] = False

    listeners = (("before_cursor_execute", before_execute), ("commit", committed), ("rollback", rolled_back))
    for name, fn in listeners:
        event.listen(engine, name, fn)
    yield lambda: state["committed"]
    for name, fn in listeners:
        event.remove(engine, name, fn)


ALL = "*"  # a route that looked at every field (iterated the query string or form)


class _TrackedFields(ImmutableMultiDict):
    """The request's query string or form, noting which fields the app looked at after the app-wide checks."""

    def __init__(self, original: ImmutableMultiDict, seen: set[str]) -> None:
        super().__init__(original)
        self._seen = seen

    def _look(self, key: Any) -> None:
        self._seen.add(key)

    def __getitem__(self, key: Any) -> Any:
        self._look(key)
        return super().__getitem__(key)

    def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        self._look(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        self._look(key)
        return super().getlist(key, *args, **kwargs)

    def __contains__(self, key: Any) -> bool:
        self._look(key)
        return super().__contains__(key)

    def _all(self) -> None:
        self._seen.add(ALL)

    def __iter__(self) -> Any:
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        self._all()
        return super().__len__()

    def items(self, *args: Any, **kwargs: Any) -> Any:
        self._all()
        return super().items(*args, **kwargs)

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def values(self) -> Any:
        self._all()
        return super().values()

    def lists(self) -> Any:
        self._all()
        return super().lists()

    def listvalues(self) -> Any:
        self._all()
        return super().listvalues()

    def to_dict(self, *args: Any, **kwargs: Any) -> Any:
        self._all()
        return super().to_dict(*args, **kwargs)

    def copy(self) -> Any:
        self._all()
        return super().copy()


def _model_keys(model: type[Any]) -> set[str]:
    """The JSON keys a typed command reads: its fields' names and aliases (models ignore every other key)."""
    keys = set(model.model_fields)
    for field in model.model_fields.values():
        keys |= {alias for alias in (field.alias, field.validation_alias) if isinstance(alias, str)}
    return keys


@pytest.fixture
def fields_read(app, monkeypatch):
    """The query, form and JSON fields each request's handling looked at, past the app-wide checks (which look at
    every field of every request the same way, whatever the route). A field a route never looks at cannot change
    its answer, so a bad value in it alone need not be sent to that route (the all-at-once attempts still send it).

    A JSON body read through `commands.from_json(Model)` is read by the model, which takes its own keys and ignores
    the rest (no model forbids extra keys): those keys are noted. A route that reads its body any other way (the
    raw bytes, or `json_body()` by hand) has looked at every field."""
    seen: set[str] = set()
    bodies = {"read": 0, "typed": 0}
    json_body, parse = commands.json_body, commands.parse

    def typed_body() -> Any:  # `from_json`'s read of the body, which it hands to `parse` whole
        bodies["typed"] += 1
        return json_body()

    def typed_parse(model: type[Any], data: Any, *, source: str = "json") -> Any:
        if source == "json" and not isinstance(data, MultiDict):
            seen.update(_model_keys(model))
        return parse(model, data, source=source)

    monkeypatch.setattr(commands, "json_body", typed_body)
    monkeypatch.setattr(commands, "parse", typed_parse)

    def track() -> None:
        request.__dict__["args"] = _TrackedFields(request.args, seen)
        if request.method == "POST":
            request.__dict__["form"] = _TrackedFields(request.form, seen)
            get_data = request.get_data

            def counted_get_data(*args: Any, **kwargs: Any) -> Any:
                bodies["read"] += 1
                return get_data(*args, **kwargs)

            request.__dict__["get_data"] = counted_get_data

    def settle(response: Any) -> Any:
        if bodies["read"] > bodies["typed"]:  # a body read other than by `from_json`
            seen.add(ALL)
        bodies.update(read=0, typed=0)
        return response

    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.append(track)  # last: after the text check and CSRF, which read every field of every route alike
    app.after_request_funcs.setdefault(None, []).insert(0, settle)
    yield seen
    hooks.remove(track)
    app.after_request_funcs[None].remove(settle)


def _alone(name: str, seen: set[str]) -> bool:
    """Whether a bad value in `name` alone can matter to the route: it looked at that field, or at all of them."""
    return ALL in seen or name in seen


def _field_of(sent: Any) -> str | None:
    """The one field a query or form sets, or None for one that sets several (or raw bytes)."""
    return next(iter(sent)) if isinstance(sent, dict) and len(sent) == 1 else None


def _due(sends: list[tuple[Any, Callable[[], Any]]], seen: set[str], *,
         unread: str = "skip") -> Iterator[Callable[[], Any]]:
    """Of (what is sent, send): first those that set no field or several, then, while the route's answers show
    more fields looked at, those whose one field it looked at. Lazily: each choice sees the answers before it.

    Why a skipped one cannot fail: a request setting only field F follows, until the route reads F, the same path
    as the request that sets nothing (sent first), and every read is noted, present or not; so a route that would
    ever read F shows it in that answer, and F's requests are sent.

    `unread="one per value"` (JSON bodies): a body is parsed whole inside the route (`apiblueprint.json_body`
    checks depth, numbers and storable text in every key and value alike), so of the fields never looked at, one
    body for each distinct value is still sent."""
    seen.clear()
    pending = []
    for sent, send in sends:
        if _field_of(sent) is None:
            yield send
        else:
            pending.append((sent, send))
    while due := [send for sent, send in pending if _alone(_field_of(sent), seen)]:
        pending = [(sent, send) for sent, send in pending if not _alone(_field_of(sent), seen)]
        yield from due
    if unread == "one per value":
        yield from {json.dumps(next(iter(sent.values()))): send for sent, send in pending}.values()


@pytest.fixture
def world(db, factories):
    """A workspace with one of everything, so that routes taking an id get real ones too."""
    return one_of_everything(db, factories)


def _group(rule: str) -> str:
    return next(name for name, prefixes in ROUTE_GROUPS.items() if not prefixes or rule.startswith(prefixes))


def _rules(app: Any, group: str) -> list[Any]:
    """The rules of `group`, in URL order; every group has some, and all of them together are every route."""
    rules = [r for r in app.url_map.iter_rules() if not r.endpoint.startswith(SKIPPED_ENDPOINTS)]
    assert len(rules) > 30
    mine = sorted((r for r in rules if _group(r.rule) == group), key=lambda r: r.rule)
    assert mine, f"no route in the sweep's group {group!r}"
    return mine


sweep_groups = pytest.mark.parametrize("group", list(ROUTE_GROUPS))


def _gets(auth: Any, client: Any, url: str, headers: dict[str, str],
          queries: Iterable[Any]) -> list[tuple[Any, Callable[[], Any]]]:
    """(query, send) for each query: an API route with its token, a page signed in, as a page and as htmx."""
    if url.startswith("/api/"):
        return [(q, lambda q=q: client.get(url, headers=headers, query_string=q)) for q in queries]
    return [(q, lambda q=q, htmx=htmx: auth.get(url, htmx=htmx, query_string=q)) for q in queries
            for htmx in (False, True)]


@sweep_groups
def test_no_route_answers_500_to_bad_input(app, auth, client, world, fields_read, group):
    auth.login(world["admin"].label)
    api_headers = {"Authorization": f"Bearer {world['token']}"}
    serve_headers = {"Authorization": f"Bearer {world['key']}"}
    bot_headers = {"Authorization": f"Bearer {world['bot']}"}
    failures: list[str] = []
    rules = _rules(app, group)
    for rule in rules:
        if rule.rule in SESSION_ENDERS:
            continue  # swept last: they end the session the others need
        for url in urls(rule.rule, world):
            headers = serve_headers if url.startswith("/api/v1/serve/") else bot_headers if is_bot_url(url) \
                else api_headers
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                # Each bad query parameter alone too: one bad value must not hide the handling of another.
                queries = [{}, BAD_QUERY, *({name: value} for name, value in BAD_QUERY.items())]
                if method == "GET":
                    attempts = [send() for send in _due(_gets(auth, client, url, headers, queries), fields_read)]
                elif url.startswith("/api/"):
                    attempts = [client.post(url, headers=headers, data=body, content_type="application/json")
                                for body in BAD_JSON_BODIES]
                else:
                    attempts = [auth.post(url, data=BAD_FORM), auth.post(url, htmx=True, data={}),
                                auth.post(url, data=BAD_FORM, query_string=BAD_QUERY)]
                failures += [f"{method} {url} → {r.status_code}" for r in attempts if r.status_code >= 500]
    for rule in [r.rule for r in rules if r.rule in SESSION_ENDERS]:
        failures += [f"POST {url} → {r.status_code}" for url in urls(rule, world)
                     for r in [auth.post(url, data=BAD_FORM)] if r.status_code >= 500]
    assert failures == []


def _sweep(app: Any, world: dict, group: str, attempts: Callable[[str, str, dict[str, str]], Iterator[Any]]) -> list[str]:
    """Every route of `group` and method, with what `attempts(method, url, headers)` sends; the answers that failed."""
    failures: list[str] = []
    for rule in _rules(app, group):
        if rule.rule in SESSION_ENDERS:
            continue  # they end the session the others need (the first sweep covers them)
        for url in urls(rule.rule, world):
            headers = {"Authorization": f"Bearer {world['key']}"} if url.startswith("/api/v1/serve/") else \
                {"Authorization": f"Bearer {world['bot'] if is_bot_url(url) else world['token']}"}
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                failures += [f"{method} {url} → {failure}" for failure in attempts(method, url, headers)]
    return failures


@sweep_groups
def test_no_route_answers_500_to_hostile_text_numbers_dates_or_zones_and_a_refusal_writes_nothing(
        app, auth, client, world, committed_writes, fields_read, group):
    auth.login(world["admin"].label)

    def attempts(method: str, url: str, headers: dict[str, str]) -> Iterator[str]:
        if method == "GET":
            sends = _gets(auth, client, url, headers, _hostile_queries())
        elif url.startswith("/api/"):
            sends = [(b, lambda b=b: client.post(url, headers=headers, content_type="application/json",
                                                 data=b if isinstance(b, bytes) else json.dumps(b)))
                     for b in _hostile_json()]
        else:
            sends = [(f, lambda f=f: auth.post(url, data=f, content_type="application/x-www-form-urlencoded")
                      if isinstance(f, bytes) else auth.post(url, data=f)) for f in _hostile_forms()]
        json_post = method == "POST" and url.startswith("/api/")
        for send in _due(sends, fields_read, unread="one per value" if json_post else "skip"):
            before = committed_writes()
            response = send()
            if response.status_code >= 500:
                yield f"{response.status_code}"
            elif 400 <= response.status_code < 500 and committed_writes() != before and url not in FAILURE_LEDGER_URLS:
                yield f"{response.status_code} but wrote"

    failures = _sweep(app, world, group, attempts)
    assert failures == [], "\n".join(failures)
