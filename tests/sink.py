"""A local HTTP sink for Apprise `json://` posts: what arrived, per path, and ways to refuse, fail or hold posts.

    with Sink() as sink:
        target = sink.target("u7")      # json://127.0.0.1:<port>/u7
        ...
        sink.received("u7")             # the posts that arrived at /u7
        sink.arrival_times()            # time.time() of every post, in arrival order (benchmarks)

    sink.failing.add("u7")              # refused with 429 before it counts: provably not delivered, so retried
    sink.answers["u7"] = 500            # answered with this status: recorded as taken, unless a 4xx refusal
    sink.stalling.add("u7")             # taken (recorded), then no answer until `stall_seconds` or close
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return  # a client killed in the middle of a post (a SIGKILLed worker): nothing to report
        super().handle_error(request, client_address)


class Served:
    """A test server run in a thread: `with` starts it; leaving releases every held request and stops it.
    Subclasses set `server` (a socketserver) and `_release`, which handlers may wait on to hold an answer."""

    server: Any
    _release: threading.Event

    def __enter__(self) -> Self:
        # serve_forever looks for shutdown() every poll_interval: 0.5 s by default, which every test paid on leaving
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


class Sink(Served):
    def __init__(self, port: int = 0) -> None:
        self.posts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.failing: set[str] = set()  # paths refused with 429 Too Many Requests, not recorded
        self.answers: dict[str, int] = {}  # paths answered with this status; recorded unless it is a 4xx refusal
        self.stalling: set[str] = set()  # paths recorded, then held unanswered past the client's timeout
        self.stall_seconds = 10.0  # an upper bound only: closing the sink releases every held post
        self._release = threading.Event()
        self.on_post: Callable[[str, int], None] | None = None  # called (path, total) before answering
        self.total = 0
        self.arrivals: list[float] = []  # time.time() of each post (failing paths too), in arrival order
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.strip("/").split("?")[0]
                with sink._lock:
                    sink.arrivals.append(time.time())
                    sink.total += 1
                    total = sink.total
                    if path not in sink.failing and not 400 <= sink.answers.get(path, 200) < 500:
                        sink.posts[path].append({"key": self.headers.get("X-Delivery-Key"), **json.loads(body)})
                if sink.on_post is not None:
                    sink.on_post(path, total)
                if path in sink.stalling:
                    sink._release.wait(sink.stall_seconds)
                status = 429 if path in sink.failing else sink.answers.get(path, 200)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]

    def target(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def received(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.posts.get(path, []))

    def count(self) -> int:
        with self._lock:
            return sum(len(p) for p in self.posts.values())

    def arrival_times(self) -> list[float]:
        with self._lock:
            return list(self.arrivals)

    def clear(self) -> None:
        """Forget what arrived (posts, the total, arrival times); `failing` and `on_post` stay."""
        with self._lock:
            self.posts.clear()
            self.arrivals.clear()
            self.total = 0
