"""A rebuild while writers append and the live consumer applies: the swap hands over exactly."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection

from apps.eventstore.store import global_log_read
from apps.eventstore.types import RecordedEvent
from apps.projections.live import projection_batch_handle
from apps.projections.models import ProjectionCheckpoint, ProjectionRebuild
from apps.projections.rebuild import projection_rebuild_request, projection_rebuild_run
from apps.projections.selectors import projection_digest
from tests.integration.projections.conftest import handled_event_count, kafka_deliveries
from tests.integration.projections.traffic import traffic_append


class LiveConsumer(threading.Thread):
    """Tails the store as relay + Kafka consumer would: partitions interleaved, some batches twice."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.projection = name
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.batches = 0

    def run(self) -> None:
        rng = random.Random(5)
        after = 0
        previous: list[RecordedEvent] = []
        try:
            while True:
                read = global_log_read(after=after, limit=30)
                if not read:
                    if self.stop.is_set():
                        return
                    time.sleep(0.005)
                    continue
                for batch in kafka_deliveries(read, poll=12, seed=after):
                    projection_batch_handle(name=self.projection, events=batch)
                    self.batches += 1
                if previous and rng.random() < 0.3:
                    projection_batch_handle(name=self.projection, events=previous)
                previous = read
                after = read[-1].position
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connection.close()


class Writer(threading.Thread):
    """Appends orders in rounds of 20 until told to stop (at least 120), so it is still appending at the swap."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        start = 100
        try:
            while start < 220 or not self.stop.is_set():
                traffic_append(orders=20, start=start, seed=start)
                start += 20
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["order_summary", "customer_order_stats"])
def test_rebuild_while_live_applying_continues_loses_nothing_and_applies_nothing_twice(name: str) -> None:
    traffic_append(orders=100)
    consumer, writer = LiveConsumer(name), Writer()
    consumer.start()
    writer.start()
    job = projection_rebuild_request(name=name, actor="tests", enqueue=False)

    job = projection_rebuild_run(job_id=job.id, batch_size=15)
    applied_at_swap = job.applied_count
    writer.stop.set()
    writer.join(timeout=120)
    while ProjectionCheckpoint.objects.get(projection=name).applied_count < handled_event_count(name):
        assert consumer.is_alive() and not consumer.errors, consumer.errors
        time.sleep(0.05)
    consumer.stop.set()
    consumer.join(timeout=60)

    assert not writer.errors and not consumer.errors, (writer.errors, consumer.errors)
    assert job.status == "done", job.error
    checkpoint = ProjectionCheckpoint.objects.get(projection=name)
    # Every handled event counted once: by the rebuild up to the swap, by the live consumer after it.
    assert checkpoint.applied_count == handled_event_count(name)
    assert applied_at_swap < checkpoint.applied_count, "the writer should still have been appending at the swap"
    live_digest = projection_digest(name=name)

    again = projection_rebuild_run(
        job_id=projection_rebuild_request(name=name, actor="tests", enqueue=False).id, batch_size=500
    )
    assert again.status == "done", again.error
    assert projection_digest(name=name) == live_digest
    assert ProjectionRebuild.objects.filter(status="done").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_reads_the_next_batch_on_its_own_connection_while_it_applies_and_closes_it() -> None:
    from apps.projections.rebuild import runner

    traffic_append(orders=40)
    name = "order_summary"
    deliver = global_log_read(after=0, limit=10_000)
    projection_batch_handle(name=name, events=deliver)
    live_digest = projection_digest(name=name)
    reader_threads: set[int] = set()
    read = runner.global_log_read

    def recorded_read(**kwargs: object) -> list[RecordedEvent]:
        reader_threads.add(threading.get_ident())
        return read(**kwargs)  # type: ignore[arg-type]

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return int(cursor.fetchone()[0])

    before = backends()
    runner.global_log_read = recorded_read  # type: ignore[assignment]
    try:
        job = projection_rebuild_run(
            job_id=projection_rebuild_request(name=name, actor="tests", enqueue=False).id, batch_size=25
        )
    finally:
        runner.global_log_read = read

    assert job.status == "done", job.error
    assert job.events_done == len(deliver) > 25 * 3
    assert projection_digest(name=name) == live_digest
    # The bulk phase read in a thread of its own; catch-up and swap read here, on this connection.
    assert len(reader_threads - {threading.get_ident()}) == 1
    assert threading.get_ident() in reader_threads
    deadline = time.monotonic() + 5
    while backends() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends() == before, "the read-ahead thread's connection was left open"
