"""The pipeline's real processes, for tests that kill, restart and pause its parts.

A :class:`PipelineStack` is one test's own world: a PostgreSQL database cloned from a
migrated template, a Tansu broker on a free port, a Redis database, and the worker and
the relay started from the launcher's process table (``eda_console.launch.processes``)
with the same environment. Each process leads its own process group, so
:meth:`PipelineStack.kill` takes a whole worker (main process, pool children, consumer
process) at once, as an OOM killer or a lost machine would. Every line the processes
print goes to one log file, prefixed with the process name, for failure messages.

The test process talks to the same database through Django's ``default`` alias:
:func:`default_database_use` points it there for the duration of the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import redis
from django.db import connections
from psycopg import sql
from psycopg.conninfo import make_conninfo

from eda_console.embedded import free_port, process_stop, tansu_start
from eda_console.launch.processes import (
    PROJECT_DIR,
    ManagedProcess,
    OutputPrinter,
    ProcessSpec,
    process_start,
    process_table,
    processes_stop,
)
from tests.support.broker import Broker

_MIGRATE_TIMEOUT_SECONDS = 300


def database_admin_conninfo() -> str:
    """A connection string to the ``postgres`` maintenance database of the default alias's server."""
    config = connections["default"].settings_dict
    params = {key: config.get(name) for key, name in (("host", "HOST"), ("port", "PORT"), ("user", "USER"))}
    if config.get("PASSWORD"):
        params["password"] = config["PASSWORD"]
    return make_conninfo("", dbname="postgres", **{k: str(v) for k, v in params.items() if v})


def database_url(name: str) -> str:
    """A ``DATABASE_URL`` for database ``name`` on the default alias's server."""
    config = connections["default"].settings_dict
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return f"postgres://{config['USER']}{password}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{name}"


def database_create(name: str, *, template: str | None = None) -> None:
    """Create database ``name``, empty or as a copy of ``template`` (which nobody may be connected to)."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    with psycopg.connect(database_admin_conninfo(), autocommit=True) as admin:
        admin.execute(statement)


def database_drop(name: str) -> None:
    """Drop database ``name``, ending whatever sessions a killed process left on it."""
    with psycopg.connect(database_admin_conninfo(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def database_migrate(name: str, *, env: Mapping[str, str]) -> None:
    """Run ``manage.py migrate`` on database ``name`` in a child process, as a deployment does."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=PROJECT_DIR,
        env={**_child_env(env), "DATABASE_URL": database_url(name)},
        capture_output=True,
        text=True,
        timeout=_MIGRATE_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate of {name} failed:\n{result.stdout}\n{result.stderr}")


@contextmanager
def default_database_use(name: str) -> Iterator[None]:
    """Point Django's ``default`` alias (every thread's connection) at database ``name`` until the block ends.

    Works like pytest-django's own switch to its test database: the alias's settings dict
    is shared by every thread's connection, so traffic threads follow too.
    """
    from apps.eventstore import store

    connection = connections["default"]
    connection.close()
    previous = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = name
    # The store keeps, per process and alias, a bound below which every position is
    # settled; learnt on another database it would wave unsettled reads through here.
    store._settled_below.pop("default", None)
    try:
        yield
    finally:
        connections.close_all()
        connection.settings_dict["NAME"] = previous
        store._settled_below.pop("default", None)


def _child_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child: ours without pytest's, with the given settings on top."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
    # No simulator traffic in a test's stack unless the test asks for it in ``base``.
    fixed = {"DJANGO_SETTINGS_MODULE": "eda_console.settings", "PYTHONUNBUFFERED": "1", "SIMULATOR_ENABLED": "false"}
    return {**inherited, **fixed, **base}


@dataclass
class PipelineStack:
    """One test's database, broker and app processes; see the module docstring."""

    database: str
    broker: Broker
    redis_url: str
    var_dir: Path
    env: dict[str, str]
    log_path: Path
    printer: OutputPrinter
    specs: dict[str, ProcessSpec]
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    # Exit codes of the processes stopped or killed so far, by name, in order.
    exits: dict[str, list[int]] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def start(self, name: str, *, env: Mapping[str, str] | None = None, instance: int = 1) -> ManagedProcess:
        """Start process ``name`` of the process table (``worker``, ``relay``, ``beat``, ``web``).

        ``instance`` > 1 starts one more copy beside the first, named ``{name}-{instance}``
        from then on (for :meth:`kill`, :meth:`pid`, :meth:`port`): as ``compose --scale``
        runs them, each worker a Celery node of its own, each web process on its own port.
        """
        if instance > 1:
            name = self._copy_register(name, instance=instance)
        running = self.processes.get(name)
        if running is not None and running.poll() is None:
            raise RuntimeError(f"{name} is already running (pid {running.popen.pid})")
        self.printer.line("stack", f"starting {name}")
        process = process_start(self.specs[name], env={**self.env, **(env or {})}, printer=self.printer)
        self.processes[name] = process
        return process

    def _copy_register(self, name: str, *, instance: int) -> str:
        copy = f"{name}-{instance}"
        if copy not in self.specs:
            argv = list(self.specs[name].argv)
            if name == "worker":
                # Two nodes of one name on one host would each take the other's replies.
                argv += ["-n", f"{copy}@%h"]
            if "-p" in argv:
                argv[argv.index("-p") + 1] = str(free_port())
            self.specs[copy] = ProcessSpec(name=copy, argv=tuple(argv))
        return copy

    def port(self, name: str) -> int:
        """The port a ``web`` process (or a copy of it) listens on."""
        argv = self.specs[name].argv
        return int(argv[argv.index("-p") + 1])

    def pid(self, name: str) -> int:
        return self.processes[name].popen.pid

    def kill(self, name: str) -> None:
        """kill -9 the process and everything in its group, and wait until none of it is left."""
        process = self.processes[name]
        self.printer.line("stack", f"kill -9 {name} (process group {process.pgid})")
        process.group_signal(signal.SIGKILL)
        self.exits.setdefault(name, []).append(process.popen.wait(timeout=30))
        deadline = time.monotonic() + 30
        while process.group_alive():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}'s process group outlived SIGKILL")
            time.sleep(0.05)

    def stop(self, name: str, *, timeout: float = 60.0) -> int:
        """Warm stop (SIGTERM, the way the launcher stops it); returns the exit code."""
        process = self.processes[name]
        processes_stop([process], timeout=timeout, report=lambda text: self.printer.line("stack", text))
        code = process.popen.wait()
        self.exits.setdefault(name, []).append(code)
        return code

    def freeze(self, name: str) -> None:
        """SIGSTOP every process of the group: it stays exactly where it is until :meth:`thaw`."""
        self.processes[name].group_signal(signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        self.processes[name].group_signal(signal.SIGCONT)

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def log_tail(self, *, lines: int = 120) -> str:
        """The last lines the processes printed (for assertion messages)."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def close(self) -> None:
        """Stop every process still running (thawed first, so SIGTERM is heard)."""
        running = [process for process in self.processes.values() if process.group_alive()]
        for process in running:
            process.group_signal(signal.SIGCONT)
        processes_stop(running, timeout=20, report=lambda text: self.printer.line("stack", text))


@contextmanager
def pipeline_stack(
    *, template: str, redis_url: str, var_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[PipelineStack]:
    """A fresh database cloned from ``template``, a Tansu broker and an emptied Redis database.

    Starts no app process (``stack.start`` does). On the way out: every process stopped,
    the broker stopped (resumed first if a test left it paused), the database dropped.
    """
    database = f"eda_faults_{uuid.uuid4().hex[:10]}"
    redis.Redis.from_url(redis_url).flushdb()
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / "processes.log"
    log: IO[str] = log_path.open("a", encoding="utf-8")
    printer = OutputPrinter(stream=log, width=6)
    port = free_port()
    database_create(database, template=template)
    broker_process: subprocess.Popen[bytes] | None = None
    stack: PipelineStack | None = None
    try:
        broker_process = tansu_start(port=port, log_path=var_dir / "tansu.log")
        child_env = _child_env(
            {
                "DATABASE_URL": database_url(database),
                "REDIS_URL": redis_url,
                "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
                "EDA_VAR_DIR": str(var_dir),
                **(env or {}),
            }
        )
        specs = {spec.name: spec for spec in process_table(port=free_port(), var_dir=var_dir)}
        stack = PipelineStack(
            database=database,
            broker=Broker(bootstrap=f"127.0.0.1:{port}", process=broker_process),
            redis_url=redis_url,
            var_dir=var_dir,
            env=child_env,
            log_path=log_path,
            printer=printer,
            specs=specs,
        )
        yield stack
    finally:
        if stack is not None:
            stack.close()
        if broker_process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(broker_process.pid, signal.SIGCONT)
            process_stop(broker_process)
        database_drop(database)
        log.close()


def wait_for(condition: Any, *, timeout: float, interval: float = 0.2, message: Any = "condition") -> Any:
    """Poll ``condition()`` until it returns something truthy, and return that; AssertionError at the deadline.

    ``message`` may be a callable, evaluated only on failure (to attach logs or state).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"not met within {timeout:.0f}s: {text}")
        time.sleep(interval)
