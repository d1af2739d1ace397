"""The serving response cache in Redis: one hash per process, a field per (version, input).

One hash per process makes the count shown in the promote dialog exact (HLEN) and invalidation a
single atomic DEL. Entries are keyed by version id, so a promotion can never serve a cached
answer of the previous version even before the invalidation effect has run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import redis

from webapp.extensions import courier

log = logging.getLogger(__name__)


def _key(process_id: int) -> str:
    return f"pd:cache:process:{process_id}"


def input_fingerprint(version_id: int, payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{version_id}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def get(process_id: int, field: str) -> Any | None:
    try:
        raw = courier.connection.hget(_key(process_id), field)
    except redis.RedisError as exc:
        log.warning("cache read skipped: %s", exc)
        return None
    return None if raw is None else json.loads(raw)


def put(process_id: int, field: str, value: Any, ttl_seconds: int) -> None:
    try:
        pipe = courier.connection.pipeline(transaction=False)
        pipe.hset(_key(process_id), field, json.dumps(value, separators=(",", ":")))
        pipe.expire(_key(process_id), ttl_seconds)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("cache write skipped: %s", exc)


def count(process_id: int) -> int | None:
    """Entries cached for the process, or None when Redis cannot be asked."""
    try:
        return int(courier.connection.hlen(_key(process_id)))
    except redis.RedisError:
        return None


def invalidate(process_id: int) -> int:
    """Drop every cached response of the process; returns how many there were. Raises on Redis errors
    so the outbox retries."""
    conn = courier.connection
    pipe = conn.pipeline(transaction=True)
    pipe.hlen(_key(process_id))
    pipe.delete(_key(process_id))
    removed, _ = pipe.execute()
    return int(removed)


def outputs(process_id: int, version_id: int, limit: int = 200) -> list[Any] | None:
    """Up to `limit` cached answers of one version (the inputs are not kept, only their fingerprints), or None
    when Redis cannot be asked."""
    found: list[Any] = []
    try:
        for _, raw in courier.connection.hscan_iter(_key(process_id), match=f"{version_id}:*", count=limit):
            found.append(json.loads(raw))
            if len(found) >= limit:
                break
    except redis.RedisError as exc:
        log.warning("cache scan skipped: %s", exc)
        return None
    return found
