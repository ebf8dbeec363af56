"""Figure 4 of the pipeline benchmark: rebuilding OrderSummary from 1,000,000 stored events.

The events live in a database of their own (``eda_bench_pipeline_rebuild``) that is kept
between runs: generating them (whole orders through ``append_to_stream``, see
``bench/pipeline_orders.py``) takes minutes, so a run only tops it up to the wanted count
and says whether it reused it. Each side runs as a child process of its own, so its peak
RSS is its own (its VmHWM, the kernel's high-water mark, read every 50 ms until it exits):

- ours: ``manage.py rebuild_projection order_summary``, the operator's command (shadow
  tables, bulk apply, index build, catch-up, swap); the rate is the job's events read
  over its recorded ``started_at`` to ``finished_at`` (Django's start-up is outside it);
- reference: ``global_log_iter`` over the same events, in the rebuild's batch size, doing
  nothing with them, timed inside its process.

The reference runs before and after the rebuild (its rate is over both reads, its peak the
higher one), so a burst of other load on the machine does not land on one side only, and
every read finds the log warm in PostgreSQL's cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.common import connect_kwargs, database_url, phase, stderr
from bench.figure import Figure

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROJECTION = "order_summary"
MIB = 1024 * 1024
PEAK_SAMPLE_SECONDS = 0.05


def _child_env(database: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "EDA_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "eda_console.settings",
        "PYTHONUNBUFFERED": "1",
    }


class _PeakRss:
    """Samples a process's VmHWM, the kernel's high-water mark of its resident memory, until it exits.

    Not ``wait4``'s ``ru_maxrss``: Linux carries the pre-exec high-water mark into it, so a
    child forked from this (large) process would report this process's size.
    """

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/status")
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(PEAK_SAMPLE_SECONDS)

    def sample(self) -> None:
        try:
            status = self.path.read_text()
        except OSError:  # gone
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak = max(self.peak, int(line.split()[1]) * 1024)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak


def _run_child(argv: list[str], env: dict[str, str], *, show_stdout: bool = False) -> tuple[str, int]:
    """Run a child to its end; returns its stdout and its peak RSS in bytes (sampled every 50 ms).

    Its stderr is ours; with ``show_stdout`` so is its stdout (a progress bar), and none is returned.
    """
    stdout: Any = sys.stderr.fileno() if show_stdout else subprocess.PIPE
    process = subprocess.Popen(argv, cwd=PROJECT_DIR, env=env, stdout=stdout, stderr=None)
    rss = _PeakRss(process.pid)
    output = process.stdout.read().decode() if process.stdout is not None else ""
    process.wait()
    peak = rss.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-2:])} exited with {process.returncode}: {output.strip()[-300:]}")
    return output, peak


def _python_call(function: str) -> list[str]:
    return [sys.executable, "-c", f"from bench.pipeline_rebuild import {function}; {function}()"]


def _database_ensure(database: str) -> None:
    """Create the dataset's database when it is missing; never drops it (that is the point)."""
    if "bench" not in database:
        raise SystemExit(f"refusing to use database {database!r}: bench databases must have 'bench' in their name")
    with psycopg.connect(**connect_kwargs("postgres"), autocommit=True) as conn:  # type: ignore[arg-type]
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is None:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))


def _job_rate(database: str) -> tuple[int, float]:
    """Events read and seconds taken by the latest finished rebuild of the projection."""
    with psycopg.connect(**connect_kwargs(database)) as conn:  # type: ignore[arg-type]
        row = conn.execute(
            "SELECT events_done, extract(epoch FROM finished_at - started_at), status FROM projections_rebuild"
            " WHERE projection = %s ORDER BY requested_at DESC LIMIT 1",
            [PROJECTION],
        ).fetchone()
    if row is None or row[2] != "done":
        raise RuntimeError(f"the rebuild did not finish: {row}")
    return int(row[0]), float(row[1])


def figures_rebuild(*, var_dir: Path, database: str, events: int) -> list[Figure]:
    _database_ensure(database)
    env = _child_env(database, var_dir)
    env["BENCH_REBUILD_EVENTS"] = str(events)
    output, _ = _run_child(_python_call("dataset_child"), env)
    dataset = json.loads(output.strip().splitlines()[-1])
    stored, reused = int(dataset["events"]), bool(dataset["reused"])
    stderr.print(
        f"bench: rebuild dataset: {stored:,} events in {dataset['orders']:,} orders"
        + (" (reused from an earlier run)" if reused else f" ({dataset['appended']:,} generated in this run)"),
        highlight=False,
    )
    reads = [_log_read(env, stored, "before")]
    stderr.print(f"bench: manage.py rebuild_projection {PROJECTION} ({stored:,} events)", highlight=False)
    started = time.perf_counter()
    _, rebuild_rss = _run_child([sys.executable, "manage.py", "rebuild_projection", PROJECTION], env, show_stdout=True)
    wall = time.perf_counter() - started
    done, seconds = _job_rate(database)
    reads.append(_log_read(env, stored, "after"))
    read_events = sum(read["events"] for read in reads)
    read_seconds = sum(read["seconds"] for read in reads)
    read_rss = max(read["rss"] for read in reads)
    stderr.print(
        f"bench: rebuild read {done:,} events in {seconds:.1f} s ({wall:.1f} s with the command's start-up);"
        " the reference read them in " + " and ".join(f"{read['seconds']:.1f} s" for read in reads),
        highlight=False,
    )
    origin = "dataset reused" if reused else "dataset generated in this run"
    return [
        Figure(
            f"rebuild {PROJECTION} from {stored:,} events",
            done / seconds,
            "events/s",
            "global_log_iter alone",
            read_events / read_seconds,
            f">= 0.85x the log read alone ({origin})",
            reference_rounds=tuple(read["events"] / read["seconds"] for read in reads),
        ),
        Figure(
            f"rebuild {PROJECTION} peak RSS",
            rebuild_rss / MIB,
            "MiB",
            "global_log_iter process peak RSS",
            read_rss / MIB,
            "<= 300 MiB",
            reference_rounds=tuple(read["rss"] / MIB for read in reads),
        ),
    ]


def _log_read(env: dict[str, str], stored: int, when: str) -> dict[str, Any]:
    """One reference read in a child process: events, seconds and the child's peak RSS in bytes."""
    with phase(f"reference: global_log_iter over {stored:,} events ({when} the rebuild)", 1) as advance:
        output, rss = _run_child(_python_call("log_read_child"), env)
        advance(1)
    read: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    read["rss"] = rss
    return read


def _django() -> None:
    import django

    django.setup()


def dataset_child() -> None:
    """In the dataset database: migrate, top the log up to BENCH_REBUILD_EVENTS events, analyze; JSON out."""
    _django()
    from django.core.management import call_command
    from django.db import connection

    from apps.eventstore.store import head_position
    from apps.projections.models import ACTIVE_REBUILD_STATUSES, ProjectionRebuild, RebuildStatus
    from bench.pipeline_orders import orders_append

    call_command("migrate", verbosity=0)
    # A bench run killed mid-rebuild leaves its job active, which would refuse the next one.
    ProjectionRebuild.objects.filter(status__in=ACTIVE_REBUILD_STATUSES).update(
        status=RebuildStatus.FAILED, error="left active by an interrupted bench run"
    )
    wanted = int(os.environ["BENCH_REBUILD_EVENTS"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event_stream")
        orders = int(cursor.fetchone()[0])
    head = head_position()
    appended = 0
    if head < wanted:
        with phase(f"generating {wanted - head:,} events (kept for later runs)", wanted - head) as advance:
            appended, next_order = orders_append(events=wanted - head, prefix="rebuild", start=orders, advance=advance)
        orders = next_order
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE eventstore_stored_event, eventstore_event_stream")
    print(json.dumps({"events": head_position(), "orders": orders, "reused": appended == 0, "appended": appended}))


def log_read_child() -> None:
    """Read the whole global log as the rebuild does (same batch size), doing nothing else; JSON out."""
    _django()
    from apps.eventstore.store import global_log_iter
    from apps.projections.rebuild.runner import REBUILD_BATCH_SIZE

    started = time.perf_counter()
    count = 0
    for _event in global_log_iter(after=0, batch_size=REBUILD_BATCH_SIZE):
        count += 1
    print(json.dumps({"events": count, "seconds": time.perf_counter() - started}))
