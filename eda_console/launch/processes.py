"""The app processes the launcher runs, and how it starts, streams and stops them.

Each child runs in its own session (so its own process group): a terminal Ctrl-C reaches
only the launcher, which then stops the children in order, and a child's own children
(Celery's pool, for one) are stopped with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PROJECT_DIR = Path(__file__).resolve().parents[2]

_COLOURS = ("36", "33", "35", "32", "34", "31")


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of the stack."""

    name: str
    argv: tuple[str, ...]


def process_table(*, port: int, var_dir: Path, python: str = sys.executable) -> list[ProcessSpec]:
    """Every process the stack runs, in start order (stopped in reverse)."""
    return [
        ProcessSpec(
            name="web",
            argv=(python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "eda_console.asgi:application"),
        ),
        ProcessSpec(
            name="worker",
            argv=(python, "-m", "celery", "-A", "eda_console", "worker", "-l", "info", "--concurrency", "2"),
        ),
        ProcessSpec(
            name="beat",
            argv=(
                python,
                "-m",
                "celery",
                "-A",
                "eda_console",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(var_dir / "celerybeat-schedule"),
            ),
        ),
        ProcessSpec(
            name="relay",
            argv=(python, "manage.py", "run_relay"),
        ),
    ]


# The demo's traffic: 2 orders/s until stopped, with the simulator's default share of every
# failure (declines, shortages, no replies, delays, projection failures, duplicates,
# undecodable records, cancellations). Stopping it switches its failure rules off.
SIMULATOR_DEMO_RATE = 2.0


def simulator_spec(*, python: str = sys.executable) -> ProcessSpec:
    """The demo's simulator process (``manage.py simulate`` without an end or a report)."""
    return ProcessSpec(
        name="sim",
        argv=(python, "manage.py", "simulate", "--rate", str(SIMULATOR_DEMO_RATE), "--duration", "0", "--no-report"),
    )


class OutputPrinter:
    """Writes children's lines to stdout, each prefixed with its process name."""

    def __init__(self, *, stream: IO[str] | None = None, width: int = 6) -> None:
        self._stream = stream or sys.stdout
        self._width = width
        self._lock = threading.Lock()
        self._colour = self._stream.isatty()
        self._assigned: dict[str, str] = {}

    def prefix(self, name: str) -> str:
        label = f"{name:<{self._width}} | "
        if not self._colour:
            return label
        colour = self._assigned.setdefault(name, _COLOURS[len(self._assigned) % len(_COLOURS)])
        return f"\033[{colour}m{label}\033[0m"

    def line(self, name: str, text: str) -> None:
        with self._lock:
            self._stream.write(self.prefix(name) + text.rstrip("\n") + "\n")
            self._stream.flush()


@dataclass
class ManagedProcess:
    """A started child: its Popen (leader of its own process group) and its output pump."""

    name: str
    popen: subprocess.Popen[bytes]
    pump: threading.Thread | None = None
    term_sent_to_group: bool = field(default=False)

    @property
    def pgid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def group_alive(self) -> bool:
        """True while any process of its group is alive (reaps the leader first)."""
        self.popen.poll()
        return process_group_alive(self.pgid)

    def group_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)


def process_group_alive(pgid: int) -> bool:
    """True while a process of the group is alive; zombies waiting for a reaper do not count."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat_path in proc.glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            return True
    return False


def _pump(name: str, stream: IO[bytes], printer: OutputPrinter) -> None:
    for raw in iter(stream.readline, b""):
        printer.line(name, raw.decode("utf-8", errors="replace"))
    stream.close()


def process_start(
    spec: ProcessSpec, *, env: Mapping[str, str], printer: OutputPrinter, cwd: Path = PROJECT_DIR
) -> ManagedProcess:
    """Start one child in a new session with its output streamed through the printer."""
    popen = subprocess.Popen(  # noqa: S603
        list(spec.argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert popen.stdout is not None
    pump = threading.Thread(target=_pump, args=(spec.name, popen.stdout, printer), daemon=True)
    pump.start()
    return ManagedProcess(name=spec.name, popen=popen, pump=pump)


def processes_stop(
    processes: Sequence[ManagedProcess],
    *,
    timeout: float = 10.0,
    report: Callable[[str], None] = print,
) -> None:
    """Stop every child and everything in its process group.

    SIGTERM goes to each leader first (in reverse start order) so that it shuts down
    gracefully (Celery's warm shutdown stops its own pool); whatever is left of a group once
    its leader exited gets SIGTERM; any group still alive at the deadline gets SIGKILL.
    """
    for process in reversed(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if p.group_alive()]
    while alive and time.monotonic() < deadline:
        for process in alive:
            if process.poll() is not None and not process.term_sent_to_group:
                process.group_signal(signal.SIGTERM)
                process.term_sent_to_group = True
        time.sleep(0.05)
        alive = [p for p in alive if p.group_alive()]
    for process in alive:
        report(f"launcher: {process.name} did not stop within {timeout:.0f}s; killing its process group")
        process.group_signal(signal.SIGKILL)
    for process in processes:
        process.popen.wait()
    kill_deadline = time.monotonic() + 5.0
    while any(p.group_alive() for p in processes) and time.monotonic() < kill_deadline:
        time.sleep(0.05)
    for process in processes:
        if process.pump is not None:
            process.pump.join(timeout=2.0)
