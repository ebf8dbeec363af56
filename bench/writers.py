"""Concurrent writers: groups of processes that run the order workload in alternating rounds.

Every process is spawned once, warms up, and then runs only when told to, for a given
number of seconds, on its own connection and its own streams. Running the groups in turn
(ours with four processes, eventsourcing with four, ours with one) many times over keeps
a burst of load from other work on the machine from landing on one side only.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

import psycopg

from bench.common import connect_kwargs, django_setup, run_for
from bench.copy_reference import INSERT_CEILING
from bench.reference import es_application, es_order_workload

ORDER_COMMANDS = 5
WARMUP_ORDERS = 20
READY_TIMEOUT = 120.0


def _insert_step(database: str) -> Callable[[], int]:
    """One row per transaction on a plain connection: the machine's ceiling for single-event commands."""
    connection = psycopg.connect(**connect_kwargs(database), autocommit=True)  # type: ignore[arg-type]
    stream_id = f"ceiling-{uuid.uuid4().hex}"

    def step() -> int:
        connection.execute(INSERT_CEILING, (stream_id, '{"order_id": "ceiling"}'), prepare=True)
        return 1

    return step


def _order_step(kind: str, databases: dict[str, str]) -> Callable[[], int]:
    if kind == "insert":
        return _insert_step(databases["ours"])
    if kind == "ours":
        django_setup()
        from bench import ours

        def step() -> int:
            ours.order_workload(uuid.uuid4().hex)
            return ORDER_COMMANDS

        return step
    app = es_application(databases["eventsourcing"], create_tables=False)

    def es_step() -> int:
        es_order_workload(app, uuid.uuid4().hex)
        return ORDER_COMMANDS

    return es_step


def _writer(kind: str, databases: dict[str, str], pipe: Connection) -> None:
    """A writer process: warm up, say so, then run for as long as each request says."""
    try:
        step = _order_step(kind, databases)
        for _ in range(WARMUP_ORDERS):
            step()
        pipe.send(("ready", None))
        while (seconds := pipe.recv()) is not None:
            pipe.send(("done", run_for(seconds, step)))
    except Exception:
        pipe.send(("error", traceback.format_exc(limit=3)))


class WriterPool:
    """Writer processes by kind; ``round(kind, n, seconds)`` runs the first ``n`` together."""

    def __init__(self, kinds: dict[str, int], databases: dict[str, str]) -> None:
        """Spawn ``kinds[kind]`` writers of each kind (ours, eventsourcing, insert) and wait until all are warm."""
        context = mp.get_context("spawn")
        self._processes: dict[str, list[tuple[Any, Connection]]] = {}
        for kind, count in kinds.items():
            self._processes[kind] = []
            for _ in range(count):
                parent_end, child_end = context.Pipe()
                process = context.Process(target=_writer, args=(kind, databases, child_end), daemon=True)
                process.start()
                self._processes[kind].append((process, parent_end))
        try:
            for kind, members in self._processes.items():
                for process, pipe in members:
                    self._receive(kind, process, pipe, "ready")
        except BaseException:
            self.close()
            raise

    def round(self, kind: str, writers: int, seconds: float) -> tuple[int, float]:
        """Commands done by ``writers`` processes of ``kind`` started together, and the longest run."""
        members = self._processes[kind][:writers]
        for _, pipe in members:
            pipe.send(seconds)
        outcomes = [self._receive(kind, process, pipe, "done") for process, pipe in members]
        return sum(done for done, _ in outcomes), max(elapsed for _, elapsed in outcomes)

    def close(self) -> None:
        for members in self._processes.values():
            for process, pipe in members:
                if process.is_alive():
                    with suppress(OSError):
                        pipe.send(None)
                process.join(timeout=10)
                if process.is_alive():
                    process.terminate()

    @staticmethod
    def _receive(kind: str, process: Any, pipe: Connection, expected: str) -> Any:
        deadline = time.monotonic() + READY_TIMEOUT
        while not pipe.poll(0.2):
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"a {kind} writer stopped answering")
        status, payload = pipe.recv()
        if status != expected:
            raise RuntimeError(f"a {kind} writer failed: {payload.strip().splitlines()[-1]}\n{payload}")
        return payload
