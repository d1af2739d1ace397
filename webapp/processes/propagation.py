"""Propagation: which version of a process each environment key was last served, and when.

The serving path must not write to the database per request, so recording is batched in three steps:

1. `seen` (every served request) looks the key and process up in this process's memory and writes to Redis
   only when the version changed or `PUSH_INTERVAL` passed since it last did: one HSET into the process's hash
   `pd:served:process:<id>`, field = key id, value = "<version id>:<unix seconds>".
2. The reconciler (`flush`, every pass) moves those hashes into `key_servings`, newest time winning, and
   deletes each field it wrote unless a newer value arrived meanwhile.
3. `report` shows the rows merged with what Redis holds but has not been flushed yet.

Redis lost or flushed: the serving route is untouched (a failed HSET is logged, never raised), and what was
not flushed yet is lost; the page then shows each key's last flushed version and time, and says that the
newest records could not be read while Redis does not answer.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import select

from webapp.accounts.models import ApiToken, Environment, TokenKind
from webapp.extensions import courier, db
from webapp.outbox import services as outbox
from webapp.processes.models import KeyServing, Process, ProcessVersion, VersionStatus

log = logging.getLogger(__name__)

PUSH_INTERVAL = 60.0  # seconds: a key's "last fetched" time is exact to a minute, like its last_used_at
_MEMORY_LIMIT = 50_000  # (key, process) pairs remembered per serving process before the memory starts over
_PREFIX = "pd:served:process:"

# (token hash, process id) → (version id, monotonic time of the last push). The token's hash, not its id:
# ids are reused after rows are deleted, a hash never.
_pushed: dict[tuple[str, int], tuple[int, float]] = {}
_lock = threading.Lock()

# Delete the fields that still hold what the flush read (a newer serve meanwhile keeps its field).
_DELETE_IF_UNCHANGED = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""


def _key(process_id: int) -> str:
    return f"{_PREFIX}{process_id}"


def seen(token_hash: str, token_id: int, process_id: int, version_id: int) -> None:
    """Note that a key was served a version (the serving hot path: a dict lookup, Redis at most once a minute)."""
    now = time.monotonic()
    memo = (token_hash, process_id)
    last = _pushed.get(memo)
    if last is not None and last[0] == version_id and now - last[1] < PUSH_INTERVAL:
        return
    with _lock:
        if len(_pushed) >= _MEMORY_LIMIT:
            _pushed.clear()
        _pushed[memo] = (version_id, now)  # also on failure: a Redis outage costs one try a minute per key
    try:
        courier.connection.hset(_key(process_id), str(token_id), f"{version_id}:{int(time.time())}")
    except redis.RedisError as exc:
        log.warning("propagation record skipped: %s", exc)


def _parse(raw: dict[bytes, bytes]) -> dict[int, tuple[int, datetime]]:
    """Redis fields as {token id: (version id, served at)}; anything unreadable is skipped."""
    out: dict[int, tuple[int, datetime]] = {}
    for name, value in raw.items():
        try:
            version_id, seconds = value.split(b":")
            out[int(name)] = (int(version_id), datetime.fromtimestamp(int(seconds), UTC))
        except ValueError:
            continue
    return out


@outbox.reconciler
def flush() -> dict[str, int]:
    """Move what serving batched in Redis into `key_servings`; how many rows were written."""
    connection = courier.connection
    written = 0
    for name in connection.scan_iter(match=f"{_PREFIX}*", count=500):
        try:
            process_id = int(name.decode().removeprefix(_PREFIX))
        except ValueError:
            continue
        raw = connection.hgetall(name)
        written += _store(process_id, _parse(raw))
        db.session.commit()
        if raw:  # only after the commit: a failure before it leaves the fields for the next pass
            args = [part for item in raw.items() for part in item]
            connection.eval(_DELETE_IF_UNCHANGED, 1, name, *args)
    return {"propagation_written": written}


def _store(process_id: int, records: dict[int, tuple[int, datetime]]) -> int:
    """Upsert one process's records, newest time winning; keys and versions that no longer belong to the
    process (deleted, or forged fields) are dropped."""
    if not records:
        return 0
    process = db.session.get(Process, process_id)
    if process is None:
        return 0
    tokens = set(db.session.scalars(select(ApiToken.id).where(
        ApiToken.id.in_(records), ApiToken.workspace_id == process.workspace_id,
        ApiToken.kind == TokenKind.environment)))
    versions = set(db.session.scalars(select(ProcessVersion.id).where(
        ProcessVersion.id.in_({v for v, _ in records.values()}), ProcessVersion.process_id == process_id)))
    rows = {row.token_id: row for row in db.session.scalars(
        select(KeyServing).where(KeyServing.process_id == process_id, KeyServing.token_id.in_(tokens))
        .with_for_update())}
    written = 0
    for token_id, (version_id, served_at) in records.items():
        if token_id not in tokens or version_id not in versions:
            continue
        row = rows.get(token_id)
        if row is None:
            db.session.add(KeyServing(token_id=token_id, process_id=process_id, version_id=version_id,
                                      served_at=served_at))
        elif served_at >= row.served_at:
            row.version_id, row.served_at = version_id, served_at
        else:
            continue
        written += 1
    return written


# -- what the process page and the API show -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyState:
    id: int
    name: str
    prefix: str
    version: int | None  # the number last served, None = never seen
    served_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "prefix": self.prefix, "version": self.version,
                "served_at": self.served_at.isoformat() if self.served_at else None}


@dataclass(frozen=True)
class EnvironmentPropagation:
    environment: Environment
    active_version: int | None
    keys: list[KeyState] = field(default_factory=list)

    @property
    def on_active(self) -> int:
        return sum(1 for k in self.keys if self.active_version is not None and k.version == self.active_version)

    @property
    def behind(self) -> list[KeyState]:
        return [k for k in self.keys if self.active_version is None or k.version != self.active_version]

    def as_json(self) -> dict[str, Any]:
        return {"environment": self.environment.value, "active_version": self.active_version,
                "keys_total": len(self.keys), "keys_on_active": self.on_active,
                "keys": [k.as_json() for k in self.keys]}


@dataclass(frozen=True)
class Propagation:
    environments: list[EnvironmentPropagation]
    live: bool  # False: Redis did not answer, the newest (unflushed) records are missing

    def as_json(self) -> dict[str, Any]:
        return {"environments": [e.as_json() for e in self.environments], "live": self.live}


def report(process: Process) -> Propagation:
    """Per environment: the active version and, for each unrevoked key, the version it was last served."""
    records = {row.token_id: (row.version_id, row.served_at) for row in db.session.scalars(
        select(KeyServing).where(KeyServing.process_id == process.id))}
    live = True
    try:
        pending = _parse(courier.connection.hgetall(_key(process.id)))
    except redis.RedisError as exc:
        log.warning("propagation records not read: %s", exc)
        pending, live = {}, False
    for token_id, (version_id, served_at) in pending.items():
        if token_id not in records or served_at > records[token_id][1]:
            records[token_id] = (version_id, served_at)
    numbers = dict(db.session.execute(select(ProcessVersion.id, ProcessVersion.number)
                                      .where(ProcessVersion.process_id == process.id)).all())
    active = dict(db.session.execute(
        select(ProcessVersion.environment, ProcessVersion.number)
        .where(ProcessVersion.process_id == process.id, ProcessVersion.status == VersionStatus.active)
        .order_by(ProcessVersion.number)).all())  # the newest active sandbox version is the one served
    keys = db.session.scalars(select(ApiToken).where(
        ApiToken.workspace_id == process.workspace_id, ApiToken.kind == TokenKind.environment,
        ApiToken.revoked_at.is_(None)).order_by(ApiToken.name, ApiToken.id)).all()
    environments = []
    for environment in (Environment.production, Environment.sandbox):
        states = []
        for key in keys:
            if key.environment is not environment:
                continue
            version_id, served_at = records.get(key.id, (None, None))
            states.append(KeyState(id=key.id, name=key.name, prefix=key.prefix,
                                   version=numbers.get(version_id) if version_id else None, served_at=served_at))
        environments.append(EnvironmentPropagation(environment, active.get(environment), states))
    return Propagation(environments=environments, live=live)
