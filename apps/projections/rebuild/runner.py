"""Running a rebuild: from the event store into shadow tables, then one swap transaction.

1. Bulk: read the global log in big batches (``global_log_read``, flat memory) and apply
   each batch to the shadow tables with the projector's own code, cursors under the next
   generation. The live model keeps serving and the live consumer keeps applying.
2. Copy the live table's indexes onto the shadow, then catch up with what was appended
   meanwhile, still outside the lock, until reads come back short.
3. Mark the job swapping (no cancel from here on), then in one transaction: take the
   projection's lock (the live applier waits), read the last events into the shadow,
   rename shadow to live, point the checkpoint at the new generation of cursors and at
   the last position read, and mark the job done. Every event at or below
   that position is in the new model and its cursors; every later one has a higher
   stream version than the cursors, so the live consumer applies it: nothing is lost or
   applied twice. The same transaction resolves the consumer group's dead letters at or
   below that position (``resolved_by_rebuild``): the new model holds their events.
4. Release, in order, the events parked behind those dead letters that the rebuild did
   not reach (the dead-letter chain's own release, outside the projection's lock).

A cancel is noticed between batches; the shadow is dropped and the live model untouched.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from django.db import connections, transaction
from django.utils import timezone

from apps.eventstore.store import global_log_read, head_position
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters import dead_letter_chains_release, dead_letter_resolve_rebuilt
from apps.messaging.push import read_model_changed_on_commit
from apps.projections.live import consumer_group_for, projection_checkpoint_get, projection_lock
from apps.projections.models import ProjectionCheckpoint, ProjectionRebuild, ProjectionStreamCursor, RebuildStatus
from apps.projections.progress import rebuild_progress_push
from apps.projections.projector import ApplyTarget, Projector, projection_events_apply
from apps.projections.projectors import projector_get
from apps.projections.rebuild.bookkeeping import rebuild_finish, rebuild_progress_record
from apps.projections.rebuild.liveness import rebuild_runner_hold
from apps.projections.tables import (
    shadow_indexes_create,
    shadow_model,
    shadow_swap,
    shadow_tables_create,
    shadow_tables_drop,
    tables_fingerprint,
)

logger = logging.getLogger(__name__)

REBUILD_BATCH_SIZE = 10_000
PROGRESS_INTERVAL_SECONDS = 0.5
# Catch-up outside the lock stops once a read returns no more events than this.
CATCH_UP_THRESHOLD = 200

ProgressCallback = Callable[[ProjectionRebuild], None]


class _Cancelled(Exception):
    pass


def projection_rebuild_run(
    *, job_id: uuid.UUID | str, on_progress: ProgressCallback | None = None, batch_size: int = REBUILD_BATCH_SIZE
) -> ProjectionRebuild:
    """Run a queued rebuild to its end (done, cancelled or failed) and return the job.

    A job that is not queued any more (cancelled before it started, or already run) is
    returned as it is. Failures are recorded on the job (status failed, error) rather than
    raised, and leave the live model untouched.
    """
    job = ProjectionRebuild.objects.get(pk=job_id)
    # The lock is taken before the claim and let go after the end is recorded: a job that
    # reads running (or swapping) always has its lock held, so a request never takes a live
    # runner for an abandoned one in the moments around its start and its end.
    with rebuild_runner_hold(name=job.projection):
        claimed = ProjectionRebuild.objects.filter(pk=job_id, status=RebuildStatus.QUEUED).update(
            status=RebuildStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
        )
        job.refresh_from_db()
        if not claimed:
            return job
        _claimed_run(job, on_progress=on_progress, batch_size=batch_size)
    if on_progress is not None:
        on_progress(job)
    return job


def _claimed_run(job: ProjectionRebuild, *, on_progress: ProgressCallback | None, batch_size: int) -> None:
    run = _Run(job, projector_get(job.projection), on_progress, batch_size)
    try:
        run.execute()
    except _Cancelled:
        run.discard()
        rebuild_finish(job, status=RebuildStatus.CANCELLED)
    except Exception as exc:
        logger.exception("rebuild %s of %s failed", job.id, job.projection)
        run.discard()
        rebuild_finish(job, status=RebuildStatus.FAILED, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    else:
        rebuild_finish(job, status=RebuildStatus.DONE)
        try:
            run.dead_letters_release()
        except Exception:
            logger.exception("rebuild %s of %s: releasing parked dead letters failed", job.id, job.projection)
        try:
            run.old_cursors_delete()
            run.analyze()
        except Exception:
            logger.exception("rebuild %s of %s: clean-up after the swap failed", job.id, job.projection)


class _Run:
    def __init__(
        self, job: ProjectionRebuild, projector: Projector, on_progress: ProgressCallback | None, batch_size: int
    ) -> None:
        self.job = job
        self.projector = projector
        self.on_progress = on_progress
        self.batch_size = batch_size
        self.name = projector.name
        self.position = 0
        self.read = 0
        self.started = time.monotonic()
        self.reported = 0.0
        self.generation = 0
        self.swapped = False

    def execute(self) -> None:
        live_generation = projection_checkpoint_get(name=self.name).generation
        self.generation = live_generation + 1
        ProjectionRebuild.objects.filter(pk=self.job.pk).update(generation=self.generation)
        self._cursors_delete(generation=self.generation)
        shadow_tables_create(models=self.projector.models)
        self.target = ApplyTarget(
            projection=self.name,
            generation=self.generation,
            physical={model: shadow_model(model) for model in self.projector.models},
        )
        # The head position is the number of events but for rolled-back appends' gaps, and
        # reads one index entry where counting would read the whole table.
        self.job.events_total = head_position()
        self._report(force=True)
        self._bulk()
        shadow_indexes_create(models=self.projector.models)
        # New appends went on during the bulk load and the index builds: take them in
        # outside the lock, so the swap transaction has only a few left to read.
        while self._step() > CATCH_UP_THRESHOLD:
            self._report()
        self._report(force=True)
        self._digests_compare()
        self._swap()

    def _digests_compare(self) -> None:
        """Record the shadow's content digest beside the live model's, for the operator to compare.

        Outside the swap's lock on purpose: hashing every row of a large read model twice
        inside it would hold the live consumer for a while. The live digest is of the model
        at its own checkpoint, kept beside it, so a live model that was behind explains a
        difference.
        """
        shadow = tables_fingerprint(tables=[shadow_model(model) for model in self.projector.models])
        live_position = projection_checkpoint_get(name=self.name).position
        live = tables_fingerprint(tables=self.projector.models)
        self.job.shadow_digest, self.job.live_digest = shadow, live
        self.job.digest_position, self.job.digest_live_position = self.position, live_position
        ProjectionRebuild.objects.filter(pk=self.job.pk).update(
            shadow_digest=shadow, live_digest=live, digest_position=self.position, digest_live_position=live_position
        )

    def _bulk(self) -> None:
        """Read the log up to its end and apply it, reading the next batch while this one is applied.

        The read-ahead runs in one worker thread on a connection of its own: PostgreSQL
        produces batch N + 1, and psycopg waits for it without holding the GIL, while this
        thread applies batch N. Inside a caller's transaction (a test's) the other connection
        would not see that transaction's rows, so there the batches are read in turn.
        """
        connection = connections["default"]
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            while self._step() == self.batch_size:
                self._report()
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rebuild-{self.name}") as reader:
            try:
                pending = reader.submit(global_log_read, after=self.position, limit=self.batch_size)
                while True:
                    batch = pending.result()
                    if len(batch) == self.batch_size:
                        pending = reader.submit(global_log_read, after=batch[-1].position, limit=self.batch_size)
                    self._apply(batch)
                    if len(batch) < self.batch_size:
                        return
                    self._report()
            finally:
                # After any read still running: the worker thread's connection is closed in it.
                reader.submit(connections.close_all)

    def _step(self) -> int:
        """Read one batch after the current position and apply it to the shadow; returns its size."""
        batch = global_log_read(after=self.position, limit=self.batch_size)
        self._apply(batch)
        return len(batch)

    def _apply(self, batch: Sequence[RecordedEvent]) -> None:
        """Apply a batch read right after the current position to the shadow and move past it."""
        if not batch:
            return
        with transaction.atomic():
            outcome = projection_events_apply(
                projector=self.projector, events=batch, target=self.target, from_ordered_log=True
            )
        self.position = batch[-1].position
        self.read += len(batch)
        self.job.applied_count += outcome.applied

    def _report(self, *, force: bool = False) -> None:
        """Record progress after every batch (where a cancel is noticed); push it at most twice a second."""
        now = time.monotonic()
        # Positions are gapless but for rolled-back appends, so what is left is about head - position.
        total = max(self.job.events_total, self.read + head_position() - self.position)
        if not rebuild_progress_record(self.job, done=self.read, total=total, started=self.started, now=now):
            raise _Cancelled
        if self.on_progress is not None:
            self.on_progress(self.job)
        if force or now - self.reported >= PROGRESS_INTERVAL_SECONDS:
            self.reported = now
            rebuild_progress_push(self.job)

    def _swap(self) -> None:
        # Past this point a cancel is refused: the job is swapping.
        swapping = ProjectionRebuild.objects.filter(pk=self.job.pk, status=RebuildStatus.RUNNING).update(
            status=RebuildStatus.SWAPPING, eta_seconds=None
        )
        if not swapping:
            raise _Cancelled
        self.job.refresh_from_db()
        rebuild_progress_push(self.job)
        with transaction.atomic():
            projection_lock(name=self.name)
            while self._step():
                pass
            live_generation = projection_checkpoint_get(name=self.name).generation
            if live_generation != self.generation - 1:
                raise RuntimeError(
                    f"the live generation moved to {live_generation} during the rebuild (expected"
                    f" {self.generation - 1}); another rebuild swapped in first"
                )
            shadow_swap(models=self.projector.models)
            now = timezone.now()
            ProjectionCheckpoint.objects.filter(projection=self.name).update(
                generation=self.generation,
                position=self.position,
                applied_count=self.job.applied_count,
                settled_position=self.position,
                updated_at=now,
            )
            read_model_changed_on_commit(source=self.name)
            # The dead letters of the events it now holds stop waiting exactly when it goes live.
            dead_letter_resolve_rebuilt(
                group_id=consumer_group_for(self.name),
                through_position=self.position,
                resolved_by=self.job.requested_by,
                reason=f"rebuild {self.job.id} applied this event from the event store",
            )
            # Done is committed with the swap: the job is done exactly when the new model is live.
            ProjectionRebuild.objects.filter(pk=self.job.pk).update(
                status=RebuildStatus.DONE,
                finished_at=now,
                events_done=self.read,
                events_total=self.read,
                applied_count=self.job.applied_count,
                heartbeat_at=now,
            )
        self.swapped = True

    def dead_letters_release(self) -> None:
        """After the swap: apply, in order, the events still parked behind the dead letters it resolved."""
        dead_letter_chains_release(group_id=consumer_group_for(self.name), resolved_by=self.job.requested_by)

    def analyze(self) -> None:
        """Give the planner statistics for the swapped-in tables and the new cursor generation.

        Without them it takes the new generation for empty and scans all of its cursors
        for every batch the live consumer applies.
        """
        connection = connections["default"]
        if connection.vendor != "postgresql":
            return
        quote = connection.ops.quote_name
        tables = [model._meta.db_table for model in self.projector.models]
        with connection.cursor() as cursor:
            for table in [*tables, ProjectionStreamCursor._meta.db_table]:
                cursor.execute(f"ANALYZE {quote(table)}")

    def discard(self) -> None:
        """Drop what the run built; the live tables and cursors are not touched."""
        if self.swapped:
            return
        try:
            shadow_tables_drop(models=self.projector.models)
            if self.generation:
                self._cursors_delete(generation=self.generation)
        except Exception:
            logger.exception("could not clean up after rebuild %s of %s", self.job.id, self.name)

    def old_cursors_delete(self) -> None:
        """After the swap: drop the cursors of the generations that are no longer live."""
        self._cursors_delete(generation=self.generation, keep=True)

    def _cursors_delete(self, *, generation: int, keep: bool = False) -> None:
        connection = connections["default"]
        operator = "<>" if keep else "="
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM projections_stream_cursor WHERE projection = %s AND generation {operator} %s",
                [self.name, generation],
            )
