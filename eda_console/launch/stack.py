"""Run the whole stack in the foreground: services, migrations, demo operator, app processes.

Ctrl-C (SIGINT) or SIGTERM stops everything it started; a child that dies on its own stops
everything too, and the launcher then exits non-zero.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from eda_console.env import env_bool
from eda_console.launch.database import database_ensure
from eda_console.launch.processes import (
    PROJECT_DIR,
    ManagedProcess,
    OutputPrinter,
    process_start,
    process_table,
    processes_stop,
    simulator_spec,
)
from eda_console.launch.services import EmbeddedService, port_is_free, services_start, services_stop

WEB_READY_TIMEOUT = 60.0


def say(message: str) -> None:
    print(f"launcher: {message}", flush=True)


def var_dir_resolve(environ: Mapping[str, str]) -> Path:
    # Same rule as eda_console.settings.VAR_DIR, without importing the settings before the
    # environment the children get is complete.
    return Path(environ.get("EDA_VAR_DIR") or PROJECT_DIR / "var").resolve()


def child_env(environ: Mapping[str, str], endpoints: Mapping[str, str], var_dir: Path) -> dict[str, str]:
    env = dict(environ)
    env.update(endpoints)
    env["EDA_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "eda_console.settings")
    return env


def manage(*args: str, env: Mapping[str, str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=dict(env),
        text=True,
        capture_output=capture,
        check=False,
    )


def demo_operator_ensure(env: Mapping[str, str]) -> str:
    """Run ensure_demo_operator, let its output through, and return it for the banner."""
    result = manage("ensure_demo_operator", env=env, capture=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    sys.stdout.flush()
    if result.returncode != 0:
        raise RuntimeError(f"ensure_demo_operator exited with {result.returncode}")
    return result.stdout.strip()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Stack:
    """What one launcher run started, and the flag its signal handlers set."""

    def __init__(self) -> None:
        self.stop_requested = threading.Event()
        self.services: list[EmbeddedService] = []
        self.processes: list[ManagedProcess] = []
        self.printer = OutputPrinter()

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stop_requested.is_set():
            say(f"{signal.Signals(signum).name} received; stopping everything")
        self.stop_requested.set()

    def first_dead(self) -> str | None:
        for process in self.processes:
            if process.poll() is not None:
                return f"{process.name} exited with code {process.popen.returncode}"
        for service in self.services:
            if service.process.poll() is not None:
                return f"embedded {service.name} exited with code {service.process.returncode}"
        return None

    def web_wait(self, port: int) -> bool:
        deadline = time.monotonic() + WEB_READY_TIMEOUT
        while time.monotonic() < deadline and not self.stop_requested.is_set():
            if self.first_dead() is not None:
                return False
            if _listening(port):
                return True
            time.sleep(0.1)
        return False

    def watch(self) -> int:
        """Block until a stop is requested (0) or something dies (1)."""
        while not self.stop_requested.wait(0.2):
            death = self.first_dead()
            if death is None:
                continue
            # A Ctrl-C at the terminal also reaches the embedded services (same process
            # group as the launcher): give our own handler a moment to record it.
            if self.stop_requested.wait(0.5):
                break
            say(f"{death}; stopping everything")
            return 1
        return 0

    def stop(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.processes:
            say("stopping " + ", ".join(p.name for p in reversed(self.processes)))
        processes_stop(self.processes, report=say)
        if self.services:
            say("stopping embedded " + ", ".join(s.name for s in reversed(self.services)))
        services_stop(self.services)
        say("stopped")


def simulator_line(*, enabled: bool) -> str:
    if enabled:
        return (
            "  Simulator: ~2 orders/s with a little of every failure."
            " Off: SIMULATOR_ENABLED=false make demo (or --no-simulator)"
        )
    return "  Simulator: off (SIMULATOR_ENABLED=false or --no-simulator)"


def banner(
    *,
    port: int,
    endpoints: Mapping[str, str],
    credentials: str,
    services: list[EmbeddedService],
    simulator: bool = False,
) -> str:
    lines = [
        "",
        "=" * 72,
        f"  EDA Console is running at  http://127.0.0.1:{port}/",
        f"  Django admin:              http://127.0.0.1:{port}/admin/",
    ]
    if credentials:
        lines += ["", *(f"  {line}" for line in credentials.splitlines())]
    lines += ["", *(f"  {name:<24} {value}" for name, value in endpoints.items())]
    lines += [f"  {s.name + ' log':<24} {s.log_path}" for s in services]
    lines += ["", simulator_line(enabled=simulator)]
    lines += ["", "  Press Ctrl-C to stop everything.", "=" * 72, ""]
    return "\n".join(lines)


def stack_run(environ: Mapping[str, str] | None = None, *, simulator: bool | None = None) -> int:
    """Start the stack and block until Ctrl-C, SIGTERM or a child's death; return the exit code.

    ``simulator`` None follows SIMULATOR_ENABLED (default on); False is ``--no-simulator``.
    """
    environ = dict(os.environ if environ is None else environ)
    if simulator is None:
        simulator = env_bool("SIMULATOR_ENABLED", True, environ=environ)
    port = int(environ.get("PORT") or 8000)
    var_dir = var_dir_resolve(environ)
    var_dir.mkdir(parents=True, exist_ok=True)
    if not port_is_free(port):
        say(f"port {port} is already in use; set PORT to another port")
        return 2

    stack = Stack()
    signal.signal(signal.SIGINT, stack.on_signal)
    signal.signal(signal.SIGTERM, stack.on_signal)
    try:
        endpoints = services_start(environ=environ, var_dir=var_dir, started=stack.services)
        for service in stack.services:
            say(f"embedded {service.name} listening at {service.url} (log: {service.log_path})")
        env = child_env(environ, endpoints, var_dir)
        if stack.stop_requested.is_set():
            return 0
        if endpoints["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
            say(database_ensure(endpoints["DATABASE_URL"]))
        say("migrating " + endpoints["DATABASE_URL"])
        if manage("migrate", "--noinput", env=env).returncode != 0:
            say("migrate failed")
            return 1
        credentials = demo_operator_ensure(env)
        specs = process_table(port=port, var_dir=var_dir)
        if simulator:
            specs.append(simulator_spec())
        for spec in specs:
            if stack.stop_requested.is_set():
                return 0
            stack.processes.append(process_start(spec, env=env, printer=stack.printer))
            say(f"started {spec.name} (pid {stack.processes[-1].popen.pid})")
        if not stack.web_wait(port):
            if stack.stop_requested.is_set():
                return 0
            death = stack.first_dead() or f"web did not listen on port {port} within {WEB_READY_TIMEOUT:.0f}s"
            say(f"{death}; stopping everything")
            return 1
        text = banner(
            port=port, endpoints=endpoints, credentials=credentials, services=stack.services, simulator=simulator
        )
        print(text, flush=True)
        return stack.watch()
    except Exception as error:
        say(f"start-up failed: {error}")
        return 1
    finally:
        stack.stop()
