"""A small closed-loop HTTP load generator: N threads, each with a persistent HTTPConnection.

Run in its own process (so its GIL is not the server's): `run(host, port, path, headers, ...)`
returns {"requests", "errors", "seconds", "rps", "statuses"}. Each connection reconnects every
RECONNECT_EVERY requests so the kernel spreads connections over all gunicorn workers.

`run_recorded(host, port, specs, ...)` cycles each thread through a mix of requests and also returns
every request as a `Sample` (start and end on `time.monotonic()`, which is CLOCK_MONOTONIC on Linux:
one clock for every process of the machine, so samples compare with times taken by the caller).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from typing import Any, NamedTuple

RECONNECT_EVERY = 200


class Spec(NamedTuple):
    """One request of a mix."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


class Sample(NamedTuple):
    start: float  # time.monotonic() before the request was written
    end: float  # after the whole answer was read
    spec: int  # index into the specs
    status: int | str  # "error" for a connection failure or timeout
    value: Any  # `field` of a 2xx JSON answer (None when not asked for or absent)


def _connect(host: str, port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(host, port, timeout=10)


def _client(host: str, port: int, specs: list[Spec], stop_at: float, counts: Counter[Any], lock: threading.Lock,
            offset: int = 0, field: str | None = None, samples: list[Sample] | None = None) -> None:
    local: Counter[Any] = Counter()
    mine: list[Sample] = []
    conn = _connect(host, port)
    n = 0
    while (start := time.monotonic()) < stop_at:
        i = (offset + n) % len(specs)
        method, path, headers, body = specs[i]
        status: int | str = "error"
        data = b""
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            if resp.will_close:
                conn.close()
                conn = _connect(host, port)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = _connect(host, port)
        local[status] += 1
        if samples is not None:
            value = None
            if field and isinstance(status, int) and 200 <= status < 300 and data:
                value = json.loads(data).get(field)
            mine.append(Sample(start, time.monotonic(), i, status, value))
        n += 1
        if n % RECONNECT_EVERY == 0:
            conn.close()
            conn = _connect(host, port)
    conn.close()
    with lock:
        counts.update(local)
        if samples is not None:
            samples.extend(mine)


def _run(host: str, port: int, specs: list[Spec], seconds: float, threads: int, start_at: float | None = None,
         field: str | None = None, samples: list[Sample] | None = None) -> dict[str, Any]:
    counts: Counter[Any] = Counter()
    lock = threading.Lock()
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.monotonic()))
    start = time.monotonic()
    stop_at = (start if start_at is None else start_at) + seconds
    workers = [threading.Thread(target=_client, args=(host, port, specs, stop_at, counts, lock, t, field, samples))
               for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - start
    ok = sum(v for k, v in counts.items() if k != "error" and 200 <= int(k) < 400)
    return {"requests": ok, "errors": sum(counts.values()) - ok, "seconds": elapsed, "rps": ok / elapsed,
            "statuses": {str(k): v for k, v in counts.items()}}


def run(host: str, port: int, path: str, headers: dict[str, str], seconds: float, threads: int) -> dict[str, Any]:
    return _run(host, port, [Spec("GET", path, headers)], seconds, threads)


def run_recorded(host: str, port: int, specs: list[Spec], seconds: float, threads: int,
                 start_at: float | None = None, field: str | None = None) -> dict[str, Any]:
    """`run` over a mix (thread t starts at specs[t % len]) from `start_at` (a time.monotonic() value),
    plus "samples": every request as a Sample, `field` read from each 2xx JSON answer."""
    samples: list[Sample] = []
    result = _run(host, port, specs, seconds, threads, start_at, field, samples)
    return result | {"samples": [tuple(s) for s in samples]}


def run_in_process(*args: Any) -> dict[str, Any]:
    """`run` in a fresh (spawned) process, so the generator does not share the caller's GIL."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(run, args)


def run_recorded_in_processes(processes: int, host: str, port: int, specs: list[Spec], seconds: float,
                              threads: int, start_at: float, field: str | None = None, *,
                              wait: bool = True) -> Any:
    """`run_recorded` split over `processes` spawned processes (threads divided among them), all
    starting at `start_at`; the results merged. With wait=False returns a callable that waits."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(processes)
    shares = [threads // processes + (1 if p < threads % processes else 0) for p in range(processes)]
    pending = [pool.apply_async(run_recorded, (host, port, specs, seconds, n, start_at, field)) for n in shares]

    def collect() -> dict[str, Any]:
        try:
            parts = [p.get() for p in pending]
        finally:
            pool.close()
            pool.join()
        statuses: Counter[str] = Counter()
        for part in parts:
            statuses.update(part["statuses"])
        seconds_ = max(part["seconds"] for part in parts)
        ok = sum(part["requests"] for part in parts)
        return {"requests": ok, "errors": sum(part["errors"] for part in parts), "seconds": seconds_,
                "rps": ok / seconds_, "statuses": dict(statuses),
                "samples": [Sample(*s) for part in parts for s in part["samples"]]}

    return collect() if wait else collect
