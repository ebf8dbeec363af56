"""Blue/green rebuilds from the event store: rebuild equals live (invariant 6), cancel, roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connection

from apps.accounts.models import AuditLog
from apps.eventstore.types import RecordedEvent
from apps.projections.live import projection_batch_handle
from apps.projections.models import ProjectionCheckpoint, ProjectionRebuild, ProjectionStreamCursor
from apps.projections.projectors import UnknownProjection, projector_get
from apps.projections.rebuild import (
    RebuildAlreadyActive,
    RebuildNotCancellable,
    projection_rebuild_cancel,
    projection_rebuild_request,
    projection_rebuild_run,
)
from apps.projections.selectors import projection_digest
from apps.projections.tables import tables_fingerprint
from tests.integration.projections.conftest import (
    PROJECTION_NAMES,
    deliver_with_duplicates,
    handled_event_count,
    kafka_deliveries,
)


def rebuild(name: str, *, batch_size: int = 100) -> ProjectionRebuild:
    job = projection_rebuild_request(name=name, actor="tests", enqueue=False)
    return projection_rebuild_run(job_id=job.id, batch_size=batch_size)


def table_names(like: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", [like])
        return {row[0] for row in cursor.fetchall()}


def index_names() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE tablename LIKE 'projections_%%'")
        return set(cursor.fetchall())


@pytest.mark.parametrize("name", PROJECTION_NAMES)
def test_rebuilt_model_has_the_digest_of_the_live_one_after_duplicates_and_replays(
    name: str, traffic: list[RecordedEvent]
) -> None:
    deliver_with_duplicates(name, traffic)
    live_digest = projection_digest(name=name)
    live_generation = ProjectionCheckpoint.objects.get(projection=name).generation

    job = rebuild(name)

    assert job.status == "done", job.error
    assert projection_digest(name=name) == live_digest
    # Compared before the swap, both shown on the projections page: the same content as the model now live.
    fingerprint = tables_fingerprint(tables=projector_get(name).models)
    assert (job.shadow_digest, job.live_digest) == (fingerprint, fingerprint)
    assert job.digests_match and job.digest_position == traffic[-1].position
    checkpoint = ProjectionCheckpoint.objects.get(projection=name)
    assert checkpoint.generation == live_generation + 1
    assert checkpoint.applied_count == job.applied_count == handled_event_count(name)
    assert checkpoint.position == checkpoint.settled_position == traffic[-1].position
    # Only the new generation's cursors remain.
    assert set(ProjectionStreamCursor.objects.filter(projection=name).values_list("generation", flat=True)) == {
        checkpoint.generation
    }


def test_after_a_swap_the_live_consumer_skips_what_the_rebuild_applied_and_applies_the_rest(
    traffic: list[RecordedEvent],
) -> None:
    name = "order_summary"
    for batch in kafka_deliveries(traffic[: len(traffic) // 2]):
        projection_batch_handle(name=name, events=batch)

    assert rebuild(name).status == "done"
    digest_of_full_model = projection_digest(name=name)

    # Kafka redelivers from the committed offsets: everything again, then nothing new.
    deliver_with_duplicates(name, traffic)
    checkpoint = ProjectionCheckpoint.objects.get(projection=name)
    assert checkpoint.applied_count == handled_event_count(name)
    assert projection_digest(name=name) == digest_of_full_model


def test_swap_keeps_the_live_index_and_table_names(traffic: list[RecordedEvent]) -> None:
    before = index_names()
    for name in PROJECTION_NAMES:
        assert rebuild(name).status == "done"
    assert index_names() == before
    assert not table_names("%%__shadow") and not table_names("%%__old")


def test_a_cancelled_rebuild_leaves_the_live_model_untouched(traffic: list[RecordedEvent]) -> None:
    name = "customer_order_stats"
    deliver_with_duplicates(name, traffic)
    live_digest = projection_digest(name=name)
    checkpoint_before = ProjectionCheckpoint.objects.values().get(projection=name)
    job = projection_rebuild_request(name=name, actor="tests", enqueue=False)
    seen: list[str] = []

    def cancel_midway(progress: ProjectionRebuild) -> None:
        seen.append(progress.status)
        if len(seen) == 2:
            projection_rebuild_cancel(job_id=progress.id, actor="tests")

    job = projection_rebuild_run(job_id=job.id, batch_size=50, on_progress=cancel_midway)

    assert job.status == "cancelled"
    assert 0 < job.events_done < len(traffic)
    assert projection_digest(name=name) == live_digest
    assert ProjectionCheckpoint.objects.values().get(projection=name) == checkpoint_before
    assert not table_names("%%__shadow")
    assert job.generation is not None
    assert not ProjectionStreamCursor.objects.filter(projection=name, generation=job.generation).exists()
    assert AuditLog.objects.filter(action="projection.rebuild.cancel", outcome="ok").count() == 1
    with pytest.raises(RebuildNotCancellable):
        projection_rebuild_cancel(job_id=job.id, actor="tests")


def test_a_rebuild_cancelled_while_queued_never_runs(traffic: list[RecordedEvent]) -> None:
    job = projection_rebuild_request(name="stock_level", actor="tests", enqueue=False)
    projection_rebuild_cancel(job_id=job.id, actor="tests")
    job = projection_rebuild_run(job_id=job.id)
    assert (job.status, job.started_at, job.events_done) == ("cancelled", None, 0)


def test_only_operators_may_rebuild_and_every_request_is_audited(operator: User, viewer: User) -> None:
    with pytest.raises(PermissionDenied):
        projection_rebuild_request(name="order_summary", actor=viewer, enqueue=False)
    assert AuditLog.objects.get(action="projection.rebuild", outcome="refused").actor == "victor"
    assert not ProjectionRebuild.objects.exists()

    job = projection_rebuild_request(name="order_summary", actor=operator, enqueue=False)
    assert job.requested_by == "olga"
    entry = AuditLog.objects.get(action="projection.rebuild", outcome="ok")
    assert (entry.actor, entry.target, entry.parameters) == ("olga", "order_summary", {})
    assert entry.result == {"job_id": str(job.id)}

    with pytest.raises(PermissionDenied):
        projection_rebuild_cancel(job_id=job.id, actor=viewer)
    with pytest.raises(UnknownProjection):
        projection_rebuild_request(name="nope", actor=operator, enqueue=False)


def test_a_second_rebuild_of_the_same_projection_waits_for_the_first(operator: User) -> None:
    first = projection_rebuild_request(name="order_summary", actor=operator, enqueue=False)
    with pytest.raises(RebuildAlreadyActive) as refused:
        projection_rebuild_request(name="order_summary", actor=operator, enqueue=False)
    assert refused.value.job.id == first.id
    other = projection_rebuild_request(name="stock_level", actor=operator, enqueue=False)
    assert other.status == "queued"


def test_a_request_enqueues_the_task_once_its_transaction_commits(
    operator: User, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        projection_rebuild_request(name="order_activity", actor=operator, enqueue=True)
    assert len(callbacks) == 1


def test_finished_rebuilds_are_audited_with_their_outcome(traffic: list[RecordedEvent]) -> None:
    job = rebuild("stock_level")
    entry = AuditLog.objects.get(action="projection.rebuild.finished")
    assert (entry.actor, entry.outcome, entry.parameters["status"]) == ("tests", "ok", "done")
    assert entry.parameters["job_id"] == str(job.id)
    assert job.finished_at is not None and job.started_at is not None
    assert job.events_done == job.events_total == len(traffic)


def test_a_rebuild_that_fails_at_the_swap_is_recorded_and_leaves_live_untouched(
    traffic: list[RecordedEvent],
) -> None:
    name = "stock_level"
    deliver_with_duplicates(name, traffic)
    live_digest = projection_digest(name=name)
    job = projection_rebuild_request(name=name, actor="tests", enqueue=False)

    def another_swap_lands_first(progress: ProjectionRebuild) -> None:
        ProjectionCheckpoint.objects.filter(projection=name).update(generation=7)

    job = projection_rebuild_run(job_id=job.id, batch_size=100, on_progress=another_swap_lands_first)

    assert job.status == "failed"
    assert "another rebuild swapped in first" in job.error
    assert projection_digest(name=name) == live_digest
    assert not table_names("%%__shadow")
    assert job.generation == 2
    assert not ProjectionStreamCursor.objects.filter(projection=name, generation=2).exists()
    assert AuditLog.objects.get(action="projection.rebuild.finished").outcome == "failed"


def test_the_celery_task_runs_the_job_it_is_given(traffic: list[RecordedEvent]) -> None:
    from apps.projections.tasks import projection_rebuild_task

    job = projection_rebuild_request(name="order_activity", actor="tests", enqueue=False)
    projection_rebuild_task.apply(args=[str(job.id)]).get()
    job.refresh_from_db()
    assert job.status == "done", job.error


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_runner_died_no_longer_blocks_a_new_rebuild() -> None:
    import threading

    from django.db import connection as default_connection

    from apps.projections.rebuild.liveness import rebuild_runner_hold

    orphan = projection_rebuild_request(name="order_summary", actor="tests", enqueue=False)
    ProjectionRebuild.objects.filter(pk=orphan.pk).update(status="running")

    # While another session holds the runner lock, the job counts as alive.
    holding, release = threading.Event(), threading.Event()

    def runner() -> None:
        try:
            with rebuild_runner_hold(name="order_summary"):
                holding.set()
                release.wait(10)
        finally:
            default_connection.close()

    thread = threading.Thread(target=runner)
    thread.start()
    assert holding.wait(10)
    with pytest.raises(RebuildAlreadyActive):
        projection_rebuild_request(name="order_summary", actor="tests", enqueue=False)
    release.set()
    thread.join(10)

    # Its session is gone: the job was abandoned, and a new rebuild may start.
    fresh = projection_rebuild_request(name="order_summary", actor="tests", enqueue=False)
    orphan.refresh_from_db()
    assert (orphan.status, orphan.error) == ("failed", "abandoned: its runner stopped")
    assert fresh.status == "queued"


def test_a_rebuild_whose_live_model_lags_shows_different_digests(traffic: list[RecordedEvent]) -> None:
    # The live consumer applied only the first half: the shadow holds more than live.
    half = traffic[: len(traffic) // 2]
    deliver_with_duplicates("order_summary", half)

    job = rebuild("order_summary")

    assert job.status == "done", job.error
    assert job.shadow_digest and job.live_digest and job.digests_match is False
    assert job.digest_live_position is not None and job.digest_position is not None
    assert job.digest_live_position < job.digest_position
