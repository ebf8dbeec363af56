"""What every benchmark shares: throw-away databases, timing loops, progress (the figure line: ``bench/figure.py``).

Each benchmark works in databases of its own whose names contain ``bench``; they are
dropped and created afresh at the start of a run, so no run sees another's rows.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.figure import stderr
from eda_console.env import env_str

BENCH_DATABASE_URL = env_str("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eda_bench")


def batch_metadata() -> dict[str, str]:
    """What a bulk import call puts on its events: one correlation id per call, like a command."""
    return {"correlation_id": str(uuid.uuid4()), "actor": "bench", "command": "BulkImport"}


def database_url(name: str) -> str:
    """The bench server's URL with the database name replaced."""
    parts = urlsplit(BENCH_DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str = BENCH_DATABASE_URL) -> str:
    return urlsplit(url).path.lstrip("/")


def connect_kwargs(name: str) -> dict[str, object]:
    """psycopg connection arguments for database ``name`` on the bench server."""
    parts = urlsplit(BENCH_DATABASE_URL)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "dbname": name,
    }


def database_recreate(name: str) -> None:
    """Drop and create database ``name``; refuses any name without ``bench`` in it."""
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: bench databases must have 'bench' in their name")
    with psycopg.connect(**connect_kwargs("postgres"), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def django_setup() -> None:
    """Point Django at the bench database (never the user's DATABASE_URL) and set it up."""
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ.setdefault("EDA_VAR_DIR", "/tmp/eda_bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "eda_console.settings"
    import django

    django.setup()


def progress() -> Progress:
    """A progress display on stderr; stdout carries only the figure lines."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )


@contextmanager
def phase(description: str, total: float) -> Iterator[Callable[[float], None]]:
    """Show a bar for one phase; yields ``advance(amount)``."""
    with progress() as bar:
        task = bar.add_task(description, total=total)
        yield lambda amount: bar.advance(task, amount)


def run_for(
    seconds: float, step: Callable[[], int], advance: Callable[[float], None] | None = None
) -> tuple[int, float]:
    """Call ``step`` (which returns how many operations it did) until ``seconds`` have passed.

    Returns the operations done and the exact time they took.
    """
    done = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        done += step()
        now = time.perf_counter() - start
        if advance is not None:
            advance(now - elapsed)
        elapsed = now
    return done, elapsed


@contextmanager
def kafka_bench_started(
    *, name: str, database: str, redis_url: str, broker_log: str = "tansu.log"
) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A bench on the real pipeline: the machine note, a fresh Tansu broker, ``database`` migrated, Django set up.

    Yields the bench's var directory (``EDA_VAR_DIR``/``name``) and the broker process; the
    broker is stopped on exit. The environment it sets (database, broker, Redis, quiet logs,
    no simulator) is inherited by the relay and worker processes a bench starts.
    """
    from eda_console.embedded import free_port, process_stop, tansu_start

    machine_note()
    var_dir = Path(os.environ.get("EDA_VAR_DIR", "/tmp/eda_bench")) / name
    var_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    broker = tansu_start(port=port, log_path=var_dir / broker_log)
    try:
        with phase("preparing the bench database", 1) as advance:
            database_recreate(database)
            os.environ["DATABASE_URL"] = database_url(database)
            os.environ["EDA_VAR_DIR"] = str(var_dir)
            os.environ["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{port}"
            os.environ["REDIS_URL"] = redis_url
            os.environ["DJANGO_SETTINGS_MODULE"] = "eda_console.settings"
            os.environ["SIMULATOR_ENABLED"] = "false"
            # The relay and worker children inherit it: their INFO lines would drown the bars.
            os.environ.setdefault("LOG_LEVEL", "WARNING")
            import django
            from django.core.management import call_command

            django.setup()
            # kafka-python warns about its own slow event-loop turns, which a loaded machine makes common.
            logging.getLogger("kafka").setLevel(logging.ERROR)
            call_command("migrate", verbosity=0)
            advance(1)
        yield var_dir, broker
    finally:
        process_stop(broker)


def machine_note() -> None:
    load1, load5, _ = os.getloadavg()
    stderr.print(
        f"bench: {os.cpu_count()} cpus, load average {load1:.2f} (1 min) {load5:.2f} (5 min);"
        " other work on this machine makes the figures noisy",
        highlight=False,
    )


def fail(message: str) -> None:
    stderr.print(f"bench: {message}", style="red")
    sys.exit(1)
