"""The run command (``python -m eda_console.launch``) end to end, on its embedded defaults."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from eda_console.embedded import free_port
from eda_console.launch import stack
from eda_console.launch.processes import ProcessSpec
from eda_console.launch.services import services_start

PROJECT_DIR = Path(__file__).resolve().parents[3]
_SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "DJANGO_SETTINGS_MODULE")


def _clean_environ(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _SERVICE_VARIABLES}
    env.update(extra)
    return env


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class _Output:
    """Collects a child's output in a thread so that the test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, *, process: subprocess.Popen[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert process.poll() is None, f"launcher exited with {process.returncode}:\n{self.text}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{self.text}"
            time.sleep(0.1)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.mark.timeout(180)
def test_run_command_serves_the_console_on_embedded_services_and_sigint_leaves_nothing(tmp_path):
    port, redis_port, kafka_port = free_port(), free_port(), free_port()
    env = _clean_environ(
        EDA_VAR_DIR=str(tmp_path), PORT=str(port), EDA_REDIS_PORT=str(redis_port), EDA_KAFKA_PORT=str(kafka_port)
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "eda_console.launch"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(launcher)
    try:
        output.wait_for("Press Ctrl-C to stop everything.", process=launcher, timeout=150)
        descendants = psutil.Process(launcher.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in descendants)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=10) as response:
            login_page = response.read().decode()
        # The launcher exits as soon as any child dies: still running means every child stayed up.
        time.sleep(5)
        assert launcher.poll() is None, output.text
    finally:
        launcher.send_signal(signal.SIGINT)
        exit_code = launcher.wait(timeout=60)

    assert exit_code == 0, output.text
    assert 'name="password"' in login_page
    assert f"REDIS_URL                redis://127.0.0.1:{redis_port}/0" in output.text
    assert f"KAFKA_BOOTSTRAP_SERVERS  127.0.0.1:{kafka_port}" in output.text
    assert f"sqlite:///{tmp_path / 'eda.sqlite3'}" in output.text
    assert (tmp_path / "eda.sqlite3").exists()
    assert "redis-server" in names
    assert "tansu" in names
    assert "daphne" in names
    assert "eda_console worker" in names
    assert "eda_console beat" in names
    assert "manage.py run_relay" in names
    # The demo's traffic runs by default, and the banner says how to turn it off.
    assert "manage.py simulate" in names
    assert "Off: SIMULATOR_ENABLED=false make demo (or --no-simulator)" in output.text
    assert "username: demo " in output.text
    time.sleep(0.5)
    assert [p.pid for p in descendants if _alive(p.pid)] == []


def test_services_named_in_the_environment_are_used_and_nothing_embedded_starts(tmp_path):
    started: list = []
    environ = {
        "DATABASE_URL": "postgres://app@db.internal:5432/orders",
        "REDIS_URL": "redis://cache.internal:6379/2",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka.internal:9092",
    }

    endpoints = services_start(environ=environ, var_dir=tmp_path, started=started)

    assert endpoints == environ
    assert started == []


@pytest.mark.timeout(120)
def test_a_child_that_dies_stops_everything_and_the_launcher_exits_non_zero(tmp_path, monkeypatch, capsys):
    pid_file = tmp_path / "long.pid"
    port = free_port()
    # The stand-in web listens, so the launcher gets past its start-up and is watching when
    # the short-lived child exits.
    web = (sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port))
    table = [
        ProcessSpec(name="web", argv=web),
        ProcessSpec(name="long", argv=("sh", "-c", f"echo $$ > {pid_file}; exec sleep 300")),
        ProcessSpec(name="short", argv=("sh", "-c", "sleep 4; exit 3")),
    ]
    monkeypatch.setattr(stack, "process_table", lambda **_: table)
    environ = _clean_environ(
        EDA_VAR_DIR=str(tmp_path),
        PORT=str(port),
        REDIS_URL="redis://127.0.0.1:1/0",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
    )
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        exit_code = stack.stack_run(environ)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])

    out = capsys.readouterr().out
    assert exit_code == 1
    assert "Press Ctrl-C to stop everything." in out
    assert "launcher: short exited with code 3; stopping everything" in out
    assert "launcher: stopped" in out
    assert not _alive(int(pid_file.read_text()))
