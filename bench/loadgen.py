"""A small closed-loop HTTP load generator: N threads, each with a persistent HTTPConnection.

Run in its own process (so its GIL is not the server's): `run(host, port, path, headers, ...)`
returns {"requests", "errors", "seconds", "rps", "statuses"}. Each connection reconnects every
RECONNECT_EVERY requests so the kernel spreads connections over all gunicorn workers.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from typing import Any

RECONNECT_EVERY = 200


def _client(host: str, port: int, path: str, headers: dict[str, str], stop_at: float,
            counts: Counter[Any], lock: threading.Lock) -> None:
    local: Counter[Any] = Counter()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    n = 0
    while time.perf_counter() < stop_at:
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            local[resp.status] += 1
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
        except (OSError, http.client.HTTPException):
            local["error"] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
        n += 1
        if n % RECONNECT_EVERY == 0:
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.close()
    with lock:
        counts.update(local)


def run(host: str, port: int, path: str, headers: dict[str, str], seconds: float, threads: int) -> dict[str, Any]:
    counts: Counter[Any] = Counter()
    lock = threading.Lock()
    start = time.perf_counter()
    stop_at = start + seconds
    workers = [threading.Thread(target=_client, args=(host, port, path, headers, stop_at, counts, lock))
               for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    ok = sum(v for k, v in counts.items() if k != "error" and 200 <= int(k) < 400)
    return {"requests": ok, "errors": sum(counts.values()) - ok, "seconds": elapsed, "rps": ok / elapsed,
            "statuses": {str(k): v for k, v in counts.items()}}


def run_in_process(*args: Any) -> dict[str, Any]:
    """`run` in a fresh (spawned) process, so the generator does not share the caller's GIL."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(run, args)
