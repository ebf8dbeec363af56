"""The launcher's process table, and how it starts, streams and stops a process group."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from eda_console.launch.processes import (
    OutputPrinter,
    ProcessSpec,
    process_group_alive,
    process_start,
    process_table,
    processes_stop,
    simulator_spec,
)


def _group_pids(pgid: int, *, expected: int, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        listing = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True).stdout
        pids = [int(line.split()[0]) for line in listing.splitlines() if "Z" not in line.split()[1]]
        if len(pids) >= expected or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in {"Z", "X"}


def test_process_table_runs_web_worker_beat_and_relay(tmp_path):
    table = {spec.name: spec.argv for spec in process_table(port=8123, var_dir=tmp_path, python="python")}

    assert list(table) == ["web", "worker", "beat", "relay"]
    assert table["web"] == (
        "python", "-m", "daphne", "-b", "127.0.0.1", "-p", "8123", "eda_console.asgi:application"
    )  # fmt: skip
    assert table["worker"][1:6] == ("-m", "celery", "-A", "eda_console", "worker")
    assert table["beat"][1:6] == ("-m", "celery", "-A", "eda_console", "beat")
    assert str(tmp_path / "celerybeat-schedule") in table["beat"]
    assert table["relay"] == ("python", "manage.py", "run_relay")


def test_child_output_is_streamed_line_by_line_under_its_name():
    out = io.StringIO()
    spec = ProcessSpec(name="echo", argv=("sh", "-c", "echo first; echo second >&2"))

    process = process_start(spec, env=os.environ, printer=OutputPrinter(stream=out))
    process.popen.wait(timeout=5)
    assert process.pump is not None
    process.pump.join(timeout=5)

    assert sorted(out.getvalue().splitlines()) == ["echo   | first", "echo   | second"]


def test_stop_terminates_the_child_and_everything_in_its_process_group():
    spec = ProcessSpec(name="sleeper", argv=("sh", "-c", "sleep 300 & exec sleep 301"))
    process = process_start(spec, env=os.environ, printer=OutputPrinter(stream=io.StringIO()))
    pids = _group_pids(process.pgid, expected=2)
    assert len(pids) == 2
    assert process.pgid == process.popen.pid != os.getpgid(0)

    started = time.monotonic()
    processes_stop([process], timeout=5.0)

    assert time.monotonic() - started < 3.0
    assert process.popen.returncode == -signal.SIGTERM
    assert not any(_alive(pid) for pid in pids)
    assert not process_group_alive(process.pgid)


def test_stop_kills_a_group_that_ignores_sigterm_after_the_timeout():
    # The ignored SIGTERM is inherited by sleep, so only SIGKILL ends the group.
    spec = ProcessSpec(name="stubborn", argv=("sh", "-c", "trap '' TERM; sleep 300; true"))
    process = process_start(spec, env=os.environ, printer=OutputPrinter(stream=io.StringIO()))
    pids = _group_pids(process.pgid, expected=2)
    reports: list[str] = []

    started = time.monotonic()
    processes_stop([process], timeout=1.0, report=reports.append)

    assert 1.0 <= time.monotonic() - started < 5.0
    assert reports == ["launcher: stubborn did not stop within 1s; killing its process group"]
    assert process.popen.returncode == -signal.SIGKILL
    assert not any(_alive(pid) for pid in pids)


def test_python_children_use_the_launchers_interpreter(tmp_path):
    for spec in process_table(port=8000, var_dir=tmp_path):
        assert spec.argv[0] == sys.executable


def test_the_demo_simulator_sends_gentle_traffic_until_stopped_without_a_report():
    spec = simulator_spec(python="python")
    assert spec.argv[:3] == ("python", "manage.py", "simulate")
    assert spec.argv[spec.argv.index("--duration") + 1] == "0"
    assert "--no-report" in spec.argv
    assert float(spec.argv[spec.argv.index("--rate") + 1]) <= 5
