"""A live runner is never declared abandoned, whatever happens to its thread's connection.

Under an API fuzzer's load, rebuild jobs ended "abandoned: its runner stopped" while their
worker was alive: the runner's lock lived on its ORM connection, and the job read running
in moments when that lock was not held. Each test here stops a real runner (a thread with
its own database session, as a worker process has) in such a moment and asks for a new
rebuild from another session, as a request does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.projections.models import ProjectionRebuild
from apps.projections.projectors import projector_get
from apps.projections.rebuild import RebuildAlreadyActive, jobs, projection_rebuild_request, projection_rebuild_run
from apps.projections.rebuild.liveness import rebuild_runner_hold
from apps.projections.tables import shadow_table_name
from tests.integration.projections.traffic import traffic_append

pytestmark = pytest.mark.django_db(transaction=True)
NAME = "order_summary"
WAIT_SECONDS = 20


class PausedRunner(threading.Thread):
    """Runs a rebuild in its own thread; at its first progress report it calls ``pause`` and waits to go on."""

    def __init__(self, job_id: str, pause: Callable[[], None], *, fail: bool) -> None:
        super().__init__(daemon=True)
        self.job_id = job_id
        self.pause = pause
        self.fail = fail
        self.paused = threading.Event()
        self.go_on = threading.Event()
        self.errors: list[BaseException] = []

    def _progress(self, job: ProjectionRebuild) -> None:
        if not self.paused.is_set():
            self.pause()
            self.paused.set()
            assert self.go_on.wait(WAIT_SECONDS)
            if self.fail:
                raise RuntimeError("the projector broke")

    def run(self) -> None:
        try:
            projection_rebuild_run(job_id=self.job_id, on_progress=self._progress, batch_size=50)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connection.close()


@pytest.fixture
def runner_started() -> Iterator[Callable[..., PausedRunner]]:
    started: list[PausedRunner] = []

    def start(pause: Callable[[], None], *, fail: bool = False) -> PausedRunner:
        traffic_append(orders=40)
        job = projection_rebuild_request(name=NAME, actor="tests", enqueue=False)
        runner = PausedRunner(str(job.id), pause, fail=fail)
        runner.start()
        started.append(runner)
        assert runner.paused.wait(WAIT_SECONDS), "the runner never reported progress"
        return runner

    yield start
    for runner in started:
        runner.go_on.set()
        runner.join(WAIT_SECONDS)


def test_a_runner_whose_connection_is_recycled_mid_run_is_not_taken_for_abandoned(
    runner_started: Callable[..., PausedRunner],
) -> None:
    def recycle() -> None:
        # What close_old_connections does on the runner's thread once CONN_MAX_AGE has passed.
        connection.close()

    runner = runner_started(recycle)

    with pytest.raises(RebuildAlreadyActive) as refused:
        projection_rebuild_request(name=NAME, actor="tests", enqueue=False)

    assert str(refused.value.job.id) == runner.job_id
    runner.go_on.set()
    runner.join(WAIT_SECONDS)
    assert not runner.is_alive() and not runner.errors
    job = ProjectionRebuild.objects.get(pk=runner.job_id)
    assert (job.status, job.error) == ("done", "")


def _waiting_on_a_lock(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [table])
        return bool(cursor.fetchone()[0])


class ShadowReader(threading.Thread):
    """Holds a read lock on the shadow tables in an open transaction until told to let go."""

    def __init__(self, tables: list[str]) -> None:
        super().__init__(daemon=True)
        self.tables = tables
        self.holding = threading.Event()
        self.let_go = threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for table in self.tables:
                    cursor.execute(f"LOCK TABLE {connection.ops.quote_name(table)} IN ACCESS SHARE MODE")
                self.holding.set()
                self.let_go.wait(WAIT_SECONDS)
        finally:
            connection.close()


def test_a_failed_runner_still_cleaning_up_is_not_taken_for_abandoned(
    runner_started: Callable[..., PausedRunner],
) -> None:
    runner = runner_started(lambda: None, fail=True)
    shadows = [shadow_table_name(model) for model in projector_get(NAME).models]
    # A reader of the shadow tables keeps the failed runner's clean-up (DROP TABLE) waiting.
    reader = ShadowReader(shadows)
    reader.start()
    try:
        assert reader.holding.wait(WAIT_SECONDS)
        runner.go_on.set()
        deadline = time.monotonic() + WAIT_SECONDS
        while not _waiting_on_a_lock(shadows[0]):
            assert time.monotonic() < deadline, "the runner never reached its clean-up"
            time.sleep(0.02)

        with pytest.raises(RebuildAlreadyActive):
            projection_rebuild_request(name=NAME, actor="tests", enqueue=False)
    finally:
        reader.let_go.set()
        reader.join(WAIT_SECONDS)

    runner.join(WAIT_SECONDS)
    assert not runner.is_alive() and not runner.errors
    job = ProjectionRebuild.objects.get(pk=runner.job_id)
    assert job.status == "failed"
    assert job.error.startswith("RuntimeError: the projector broke")


def test_a_runner_that_starts_while_a_request_looks_is_not_taken_for_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    traffic_append(orders=5)
    job = projection_rebuild_request(name=NAME, actor="tests", enqueue=False)
    claimed = threading.Event()
    release = threading.Event()

    def runner_starts() -> None:
        # A worker's runner, in its own session: it takes its lock, claims the job, holds on.
        try:
            with rebuild_runner_hold(name=NAME):
                ProjectionRebuild.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now())
                claimed.set()
                release.wait(WAIT_SECONDS)
        finally:
            connection.close()

    runner = threading.Thread(target=runner_starts, daemon=True)
    looked = jobs.rebuild_runner_alive

    def look_then_runner_starts(*, name: str, using: str = "default") -> bool | None:
        # The request's look at the lock, and the runner starting right after it.
        answer = looked(name=name, using=using)
        if not runner.is_alive() and not claimed.is_set():
            runner.start()
            assert claimed.wait(WAIT_SECONDS)
        return answer

    monkeypatch.setattr(jobs, "rebuild_runner_alive", look_then_runner_starts)
    try:
        with pytest.raises(RebuildAlreadyActive):
            projection_rebuild_request(name=NAME, actor="tests", enqueue=False)
        job.refresh_from_db()
        assert job.status != "failed" and job.error == ""
    finally:
        release.set()
        if runner.is_alive():
            runner.join(WAIT_SECONDS)
