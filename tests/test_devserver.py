"""`make run`'s supervisor (`python -m webapp.devserver`) as a newcomer runs it: real processes, an
embedded Valkey, and a stop signal to the whole process group, as Ctrl-C in a terminal or a
`timeout`/CI runner sends it. Nothing may be left behind and nothing may crash on the way out."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

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


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def devserver_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "FLASK_DEBUG")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'desk.sqlite'}", "SECRET_KEY": "devserver-test-secret",
            "PORT": str(_free_port()), "FLASK_SKIP_DOTENV": "1", "PYTHONUNBUFFERED": "1"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    return env


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm-to-group"])
def test_make_run_supervisor_seeds_serves_and_stops_everything_on_a_group_signal(devserver_env, stop_signal):
    proc = subprocess.Popen([sys.executable, "-m", "webapp.devserver"], cwd=ROOT, env=devserver_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # its own group: the "terminal" we signal
    lines: list[str] = []
    up = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "is up at" in line:
                up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert up.wait(START_TIMEOUT), "devserver did not come up:\n" + "".join(lines)
        output = "".join(lines)
        assert "Sign in as demo@example.com / promote-me" in output
        children = [int(pid) for pid in re.findall(r"started [a-z ]+ \(pid (\d+)\)", output)]
        assert len(children) == 3, output
        valkey_port = int(re.search(r"embedded Valkey at redis://127\.0\.0\.1:(\d+)", output).group(1))
        base = f"http://127.0.0.1:{devserver_env['PORT']}"
        with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
            assert json.load(response) == {"db": "ok", "redis": "ok"}
        time.sleep(1.5)  # let the worker's scheduler take its lock: its release is part of a clean stop

        os.killpg(proc.pid, stop_signal)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(5)
    output = "".join(lines)
    assert "devserver: all stopped" in output
    assert "Traceback" not in output, output
    assert not [pid for pid in children if _group_alive(pid)], output
    assert not _port_open(valkey_port)
