"""`make run`'s supervisor (`python -m webapp.devserver`) as a newcomer runs it: real processes, an
embedded Valkey, and a stop signal to the whole process group, as Ctrl-C in a terminal or a
`timeout`/CI runner sends it. Nothing may be left behind and nothing may crash on the way out."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.once import once_per_run

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _valkey_pid(port: int) -> int:
    """The pid of the valkey-server answering on `port` (its `INFO server`). Checked by pid, not by port: once
    it is gone, another test's server may be given the same free port."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"INFO server\r\n")
        reply = b""
        while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
            chunk = s.recv(65536)
            assert chunk, reply
            reply += chunk
    return int(re.search(rb"process_id:(\d+)", reply).group(1))


def _alive(pid: int) -> bool:
    """Running, or stopped but holding its port: a zombie (dead, its parent has not reaped it yet) does not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _environment(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "FLASK_DEBUG")}
    return env | {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "devserver-test-secret",
                  "PORT": str(_free_port()), "FLASK_SKIP_DOTENV": "1", "PYTHONUNBUFFERED": "1",
                  "DEV_LOG": str(database.parent / "dev.log"), "DEV_INBOX_PATH": str(database.parent / "inbox.jsonl")}


def _upgraded(database: Path) -> None:
    """`make run`'s first step: `flask db upgrade` of a new SQLite file."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                   env=_environment(database), check=True, capture_output=True)


@pytest.fixture
def devserver_env(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What `make run` hands the supervisor: a database `flask db upgrade` made (once per run, copied: the
    supervisor's tests each start from the same upgraded, unseeded file) and no REDIS_URL."""
    shutil.copy(once_per_run(tmp_path_factory, "devserver-upgraded.sqlite", _upgraded), tmp_path / "desk.sqlite")
    return _environment(tmp_path / "desk.sqlite")


class Devserver:
    """`python -m webapp.devserver` in a group of its own (the "terminal"), read line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.lines, self.up = env, [], threading.Event()
        self.proc = subprocess.Popen([sys.executable, "-m", "webapp.devserver"], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line)
            if "is up at" in line:
                self.up.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_up(self) -> tuple[list[int], int]:
        """The children's pids and valkey-server's pid, once the web server answers /health."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.up.wait(0.2):
            assert self.proc.poll() is None and time.monotonic() < deadline, "devserver did not come up:\n" + self.output
        assert "Sign in as demo@example.com / promote-me" in self.output
        log = self.this_start_log()
        deadline = time.monotonic() + 10  # the block is printed as the worker and the reconciler are started
        while len(re.findall(r"started (?:web server|worker|reconciler) \(pid", log)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
            log = self.this_start_log()
        children = [int(pid) for pid in re.findall(r"started (?:web server|worker|reconciler) \(pid (\d+)\)", log)]
        assert len(children) == 3, log
        valkey_port = int(re.search(r"embedded Valkey at redis://127\.0\.0\.1:(\d+)", log).group(1))
        valkey = _valkey_pid(valkey_port)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.env['PORT']}/health", timeout=5) as response:
            assert json.load(response) == {"db": "ok", "redis": "ok"}
        return children, valkey

    def this_start_log(self) -> str:
        """The log file (DEV_LOG) from this supervisor's own first line on."""
        text = Path(self.env["DEV_LOG"]).read_text(encoding="utf-8")
        return text[text.rindex(f"(pid {self.proc.pid})"):]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(5)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm-to-group"])
def test_make_run_supervisor_seeds_serves_and_stops_everything_on_a_group_signal(devserver_env, stop_signal):
    server = Devserver(devserver_env)
    try:
        children, valkey = server.wait_up()
        time.sleep(1.5)  # let the worker's scheduler take its lock: its release is part of a clean stop
        os.killpg(server.proc.pid, stop_signal)
        assert server.proc.wait(60) == 0
    finally:
        server.close()
    assert "devserver: all stopped" in server.output
    assert "Traceback" not in server.output, server.output
    assert not [pid for pid in children if _group_alive(pid)], server.output
    assert not _alive(valkey)


@pytest.mark.skipif(sys.platform != "linux", reason="children follow a killed supervisor through Linux's PR_SET_PDEATHSIG")
def test_a_supervisor_killed_outright_leaves_no_child_and_no_valkey_behind(devserver_env):
    server = Devserver(devserver_env)
    try:
        children, valkey = server.wait_up()
        server.proc.kill()  # SIGKILL to the supervisor alone: no handler of ours runs
        server.proc.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (any(_group_alive(pid) for pid in children) or _alive(valkey)):
            time.sleep(0.2)
        assert not [pid for pid in children if _group_alive(pid)], server.output
        assert not _alive(valkey)
    finally:
        for pid in children:
            if _group_alive(pid):
                os.killpg(pid, signal.SIGKILL)
        server.close()


def test_make_run_points_every_link_at_its_own_port_unless_public_url_is_set():
    """`PORT=5101 make run`: links in messages and announcements (`Settings.PUBLIC_URL`) lead to the web server
    on 5101, not to 5000 where nothing listens; a PUBLIC_URL set in the environment or `.env` wins."""
    from webapp.config import Settings
    from webapp.devserver import child_environment

    env, port = child_environment({"PORT": "5101", "SECRET_KEY": "k" * 32})
    assert port == 5101
    assert Settings.from_env(env).PUBLIC_URL == "http://127.0.0.1:5101"
    assert child_environment({})[0]["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert child_environment({"PORT": "5101", "PUBLIC_URL": "https://desk.example"})[0]["PUBLIC_URL"] == \
        "https://desk.example"
    with pytest.raises(ValueError):
        child_environment({"PORT": "fifty"})


def _stop(server: Devserver) -> None:
    os.killpg(server.proc.pid, signal.SIGINT)
    assert server.proc.wait(60) == 0, server.output


def test_make_run_prints_one_block_of_url_logins_and_inbox_and_a_second_start_neither_migrates_nor_seeds(
        devserver_env):
    """The terminal holds the block and little else (the rest is in DEV_LOG); the second start finds the database at
    head with the demo in it and goes straight to serving."""
    first = Devserver(devserver_env)
    try:
        first.wait_up()
        _stop(first)
    finally:
        first.close()
    url = f"http://127.0.0.1:{devserver_env['PORT']}"
    block = first.output[first.output.index("Promotion Desk is up at"):first.output.index("devserver: SIGINT")]
    assert f"Promotion Desk is up at {url}/" in block
    assert "demo@example.com / promote-me (admin)" in block
    for email in ("editor@example.com", "promoter@example.com", "viewer@example.com", "ana@example.com",
                  "eva@example.com"):
        assert email in block
    assert f"Demo inbox (what the players were sent): {url}/dev/inbox" in block
    assert f"Logs: {devserver_env['DEV_LOG']}" in block
    assert len(first.output.splitlines()) <= 12, first.output  # seeding, the block, the stop
    assert "started worker" not in first.output and "Running upgrade" not in first.output
    assert "started database preparation" in first.this_start_log()

    second = Devserver(devserver_env)
    try:
        second.wait_up()
        _stop(second)
    finally:
        second.close()
    log = second.this_start_log()
    assert "nothing to prepare" in log and "database preparation" not in log and "seeding" not in second.output
    assert "Traceback" not in first.output + second.output


def test_the_database_itself_says_whether_a_start_must_migrate_or_seed(tmp_path, tmp_path_factory):
    from webapp.devserver import missing_setup

    assert missing_setup(f"sqlite:///{tmp_path / 'new.sqlite'}") == "migrate"
    upgraded = tmp_path / "upgraded.sqlite"
    shutil.copy(once_per_run(tmp_path_factory, "devserver-upgraded.sqlite", _upgraded), upgraded)
    assert missing_setup(f"sqlite:///{upgraded}") == "seed"  # at head, no demo yet
    with sqlite3.connect(upgraded) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert missing_setup(f"sqlite:///{upgraded}") == "migrate"  # a migration was added since
    assert missing_setup(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite'}") == "migrate"  # unreadable


def test_the_demo_inbox_sink_keeps_each_message_for_the_inbox_page(tmp_path):
    import apprise

    from webapp.devinbox.store import read_newest_first
    from webapp.devserver import _start_demo_inbox

    port, path = _free_port(), tmp_path / "inbox.jsonl"
    server = _start_demo_inbox(path, port)
    assert server is not None
    try:
        sender = apprise.Apprise()  # what the worker's delivery sends through
        sender.add(f"json://127.0.0.1:{port}/ana")
        assert sender.notify(title="Game night", body="At 20:00\nBe there")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/rooms", data=b"not json", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        server.shutdown()
    newest, oldest = read_newest_first(path)
    assert (oldest.target, oldest.title, oldest.body) == (f"json://127.0.0.1:{port}/ana", "Game night",
                                                          "At 20:00\nBe there")
    assert (newest.target, newest.title, newest.body) == (f"json://127.0.0.1:{port}/rooms", "", "not json")


def test_the_terminal_shows_a_childs_errors_while_the_log_keeps_all_it_said(tmp_path, capsys):
    from webapp.devserver import Console

    console = Console(tmp_path / "dev.log")
    said = ["127.0.0.1 - - \"GET /health HTTP/1.1\" 200 -", "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>', "ValueError: boom", "22:00:01 Worker: job OK",
            "127.0.0.1 - - \"GET /x HTTP/1.1\" 500 -", "[2026-12-07] ERROR in app: Exception on /x [GET]"]
    child = subprocess.Popen([sys.executable, "-c", f"print({chr(10).join(said)!r})"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    console.relay(child)
    child.wait(10)
    console.close()
    assert (tmp_path / "dev.log").read_text().splitlines() == said
    assert capsys.readouterr().err.splitlines() == said[1:4] + said[5:]
