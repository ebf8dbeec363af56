"""Running a bulk replay: each matching head in global order, canary first, paced, cancellable.

1. Claim the job (queued -> running) and note the newest dead letter, so the end can
   count the ones that arrived meanwhile; the impact at that moment is the total.
2. Replay the heads in batches: lone heads (nothing parked behind) of one group go
   through the group's ``handle_batch`` in one transaction (``replay_batch``); the rest,
   and a whole batch that fails, one by one with the same code as a single replay (each
   releases the events parked behind it, in order). After the canary batch, and from then on, the job
   stops itself when more than ``stop_failure_share`` of what it replayed failed again:
   a handler that is still broken should cost a few attempts, not ten thousand.
3. With a rate limit it sleeps so that events replayed per second stay under it.
4. Progress is stored every ``PROGRESS_INTERVAL_SECONDS`` (where a cancel is noticed, as
   the stored status is no longer running) and pushed to the browsers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator

from django.db.models import Max
from django.utils import timezone

from apps.accounts.audit import audit_log_record
from apps.messaging.dead_letters.errors import DeadLetterNotReplayable
from apps.messaging.dead_letters.impact import dead_letter_replay_impact, replay_heads
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterReplayJob, ReplayJobStatus
from apps.messaging.dead_letters.progress import replay_job_progress_push
from apps.messaging.dead_letters.replay import replay_apply
from apps.messaging.dead_letters.replay_batch import lone_heads_replay
from apps.messaging.dead_letters.selectors import DeadLetterFilter

logger = logging.getLogger(__name__)

AUDIT_FINISHED = "dead_letter.replay_job.finished"
PROGRESS_INTERVAL_SECONDS = 0.25
# Lone heads replayed per transaction (see replay_batch); a failing batch goes one at a time.
BATCH_SIZE = 200


class _Cancelled(Exception):
    pass


def replay_job_filters(job: DeadLetterReplayJob) -> DeadLetterFilter:
    """The job's stored filter as a DeadLetterFilter (times come back from their ISO form)."""
    values: dict[str, object] = dict(job.filters)
    for name in ("created_after", "created_before"):
        if isinstance(values.get(name), str):
            values[name] = dt.datetime.fromisoformat(str(values[name]))
    return DeadLetterFilter(**values)  # type: ignore[arg-type]


def dead_letter_replay_job_run(*, job_id: uuid.UUID | str) -> DeadLetterReplayJob:
    """Run a queued bulk replay to its end (done, stopped, cancelled or failed) and return the job.

    A job that is no longer queued (cancelled before it started, or already run) is
    returned as it is. An unexpected error is recorded on the job (failed), not raised.
    """
    newest = DeadLetter.objects.aggregate(newest=Max("pk"))["newest"] or 0
    claimed = DeadLetterReplayJob.objects.filter(pk=job_id, status=ReplayJobStatus.QUEUED).update(
        status=ReplayJobStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), started_after_id=newest
    )
    job = DeadLetterReplayJob.objects.get(pk=job_id)
    if not claimed:
        return job
    run = _Run(job)
    try:
        run.execute()
    except _Cancelled:
        pass
    except Exception as exc:
        logger.exception("bulk replay %s failed", job.id)
        with contextlib.suppress(_Cancelled):
            run.finish(ReplayJobStatus.FAILED, f"{type(exc).__name__}: {exc}")
    return run.job


class _Run:
    def __init__(self, job: DeadLetterReplayJob) -> None:
        self.job = job
        self.started = time.monotonic()
        self.recorded = 0.0

    def execute(self) -> None:
        filters = replay_job_filters(self.job)
        heads = list(replay_heads(filters=filters).values_list("pk", "group_id"))
        impact = dead_letter_replay_impact(filters=filters)
        self.job.total = impact.total
        self.job.heads_total = len(heads)
        self._record(force=True)
        for group_id, batch in self._batches(heads):
            done = lone_heads_replay(group_id=group_id, head_ids=batch, resolved_by=self.job.requested_by)
            if done.replayed:
                self.job.replayed += len(done.replayed)
                self.job.heads_done += len(done.replayed)
                self._pace()
                self._record()
            for head_id in done.left:
                self._replay(head_id)
                self.job.heads_done += 1
                if self._too_many_failed():
                    self._stop()
                    return
                self._pace()
                self._record()
        self.finish(ReplayJobStatus.DONE, "")

    def _batches(self, heads: list[tuple[int, str]]) -> Iterator[tuple[str, list[int]]]:
        """Runs of heads of one group, in order: the canary batch first, then ``BATCH_SIZE`` at a time.

        With a rate limit a batch holds at most what a progress interval allows, so the
        pace stays even and a cancel is noticed as soon as without batches.
        """
        size = BATCH_SIZE
        if self.job.rate_limit:
            size = max(1, min(size, int(self.job.rate_limit * PROGRESS_INTERVAL_SECONDS)))
        canary = min(self.job.canary_size, len(heads))
        start = 0
        while start < len(heads):
            limit = min(size, canary - start) if start < canary else size
            group_id = heads[start][1]
            end = start
            while end < len(heads) and end - start < limit and heads[end][1] == group_id:
                end += 1
            yield group_id, [pk for pk, _ in heads[start:end]]
            start = end

    def _stop(self) -> None:
        share = self.job.failed_again / max(self.job.replayed + self.job.failed_again, 1)
        self.finish(
            ReplayJobStatus.STOPPED,
            f"stopped itself after {self.job.heads_done} dead letters: {share:.0%} failed again, more than"
            f" the {self.job.stop_failure_share:.0%} allowed; fix the handler or the rule, then replay again",
        )

    def _replay(self, head_id: int) -> None:
        try:
            result = replay_apply(head_id, resolved_by=self.job.requested_by)
        except DeadLetter.DoesNotExist:
            return
        except DeadLetterNotReplayable:
            self.job.failed_again += 1
            return
        self.job.replayed += result.replayed_count
        self.job.failed_again += result.failed_count

    def _too_many_failed(self) -> bool:
        if self.job.heads_done < min(self.job.canary_size, self.job.heads_total) or not self.job.failed_again:
            return False
        attempted = self.job.replayed + self.job.failed_again
        return self.job.failed_again / attempted > self.job.stop_failure_share

    def _pace(self) -> None:
        if not self.job.rate_limit:
            return
        due = (self.job.replayed + self.job.failed_again) / self.job.rate_limit
        while (ahead := due - (time.monotonic() - self.started)) > 0:
            # Short naps, so a cancel is noticed within a progress interval even at 1 event/s.
            time.sleep(min(ahead, PROGRESS_INTERVAL_SECONDS))
            self._record()

    def _record(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.recorded < PROGRESS_INTERVAL_SECONDS:
            return
        self.recorded = now
        self.job.rate = (self.job.replayed + self.job.failed_again) / max(now - self.started, 1e-6)
        self.job.heartbeat_at = timezone.now()
        updated = DeadLetterReplayJob.objects.filter(pk=self.job.pk, status=ReplayJobStatus.RUNNING).update(
            total=self.job.total,
            heads_total=self.job.heads_total,
            heads_done=self.job.heads_done,
            replayed=self.job.replayed,
            failed_again=self.job.failed_again,
            rate=self.job.rate,
            heartbeat_at=self.job.heartbeat_at,
        )
        if not updated:
            self._cancelled()
        replay_job_progress_push(self.job)

    def _cancelled(self) -> None:
        # Keep what was done before the cancel was seen: the cancel wrote only the status.
        DeadLetterReplayJob.objects.filter(pk=self.job.pk).update(
            heads_done=self.job.heads_done,
            replayed=self.job.replayed,
            failed_again=self.job.failed_again,
            new_dead_letters=self._new_dead_letters(),
        )
        self.job.refresh_from_db()
        replay_job_progress_push(self.job)
        self._audit()
        raise _Cancelled

    def _new_dead_letters(self) -> int:
        # Failures recorded since the start (heads); events merely parked behind them are not new failures.
        return DeadLetter.objects.filter(pk__gt=self.job.started_after_id or 0, blocked_by__isnull=True).count()

    def finish(self, status: str, detail: str) -> None:
        """Record how the job ended, unless a cancel ended it first; push it and audit it."""
        self.job.rate = (self.job.replayed + self.job.failed_again) / max(time.monotonic() - self.started, 1e-6)
        ended = DeadLetterReplayJob.objects.filter(pk=self.job.pk, status=ReplayJobStatus.RUNNING).update(
            status=status,
            detail=detail,
            finished_at=timezone.now(),
            heads_done=self.job.heads_done,
            heads_total=self.job.heads_total,
            total=self.job.total,
            replayed=self.job.replayed,
            failed_again=self.job.failed_again,
            rate=self.job.rate,
            new_dead_letters=self._new_dead_letters(),
        )
        if not ended:
            self._cancelled()
        self.job.refresh_from_db()
        replay_job_progress_push(self.job)
        self._audit()

    def _audit(self) -> None:
        """A system record of how the work ended; the operator's request was audited when it was made."""
        job = self.job
        audit_log_record(
            actor=job.requested_by,
            action=AUDIT_FINISHED,
            target=f"replay_job:{job.id}",
            parameters={
                "job_id": str(job.id),
                "status": job.status,
                "replayed": job.replayed,
                "failed_again": job.failed_again,
                "new_dead_letters": job.new_dead_letters,
            },
            outcome="ok" if job.status in {ReplayJobStatus.DONE, ReplayJobStatus.CANCELLED} else "failed",
            detail=job.detail,
        )
