"""The sequenced chain of one (group, stream): the head that failed and the events parked behind it.

Every change to a chain happens in a transaction holding that chain's lock, so the
worker parking a new event and an operator releasing the chain never interleave: a new
event either joins the chain before the release reaches its end, or finds the stream
free and is applied in order at once.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters.dlq import dlq_produce_on_commit
from apps.messaging.dead_letters.fault_injection import failure_rules_wrap
from apps.messaging.dead_letters.fingerprint import failure_fingerprint
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterAttempt, DeadLetterStatus
from apps.messaging.dead_letters.stored import dead_letter_event_read
from apps.messaging.push import read_model_changed_on_commit
from apps.messaging.registry import consumer_spec

SYSTEM_ACTOR = "system"
# Who the attempt log names for the deliveries that ended in a dead letter.
CONSUMER_HOST_ACTOR = "consumer host"
PARKED = DeadLetterStatus.PARKED
_parked_cache: dict[str, tuple[float, frozenset[str]]] = {}

# The overview counts dead letters: every change to one is a read-model change to push.
DEAD_LETTERS_SOURCE = "dead_letters"


def chain_lock(*, group_id: str, stream_id: str) -> None:
    """Hold the (group, stream) chain lock until the caller's transaction ends."""
    alias = router.db_for_write(DeadLetter)
    connection = connections[alias]
    if not connection.in_atomic_block:
        raise RuntimeError("chain_lock must be taken inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return  # SQLite runs one writer at a time (IMMEDIATE transactions).
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_chain_key(group_id, stream_id)])


def _chain_key(group_id: str, stream_id: str) -> int:
    digest = hashlib.blake2b(f"dead-letter:{group_id}:{stream_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def chain_locks(*, group_id: str, stream_ids: Collection[str]) -> None:
    """Hold the chain locks of many streams of ``group_id`` until the caller's transaction ends.

    One round trip; the keys are taken in ascending order, so two callers locking
    overlapping sets cannot deadlock (every other caller holds one chain lock at a time).
    """
    alias = router.db_for_write(DeadLetter)
    connection = connections[alias]
    if not connection.in_atomic_block:
        raise RuntimeError("chain_locks must be taken inside transaction.atomic()")
    if connection.vendor != "postgresql" or not stream_ids:
        return
    keys = sorted({_chain_key(group_id, stream_id) for stream_id in stream_ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY k) AS keys",
            [keys],
        )


def parked_streams_forget(group_id: str) -> None:
    """Drop the cached parked streams of ``group_id`` (after any change to its chains)."""
    _parked_cache.pop(group_id, None)


def parked_streams_add(group_id: str, stream_id: str) -> None:
    """Note in this process's cache that ``stream_id`` is parked for ``group_id`` (after recording a head)."""
    cached = _parked_cache.get(group_id)
    if cached is not None and stream_id not in cached[1]:
        _parked_cache[group_id] = (cached[0], cached[1] | {stream_id})


def parked_streams(group_id: str) -> frozenset[str]:
    now = time.monotonic()
    cached = _parked_cache.get(group_id)
    if cached is not None and now - cached[0] < settings.DEAD_LETTER_CACHE_SECONDS:
        return cached[1]
    streams = frozenset(
        DeadLetter.objects.filter(group_id=group_id, status=PARKED)
        .exclude(stream_id="")
        .values_list("stream_id", flat=True)
        .distinct()
    )
    _parked_cache[group_id] = (now, streams)
    return streams


def chain_head_id(*, group_id: str, stream_id: str) -> int | None:
    """The head the stream's parked events wait behind; None when nothing of it is parked.

    While a release is under way the head is already resolved and its followers still
    parked; a newcomer then waits behind that same head and the release picks it up.
    """
    first = (
        DeadLetter.objects.filter(group_id=group_id, stream_id=stream_id, status=PARKED, position__isnull=False)
        .order_by("position")
        .values_list("pk", "blocked_by_id")
        .first()
    )
    if first is None:
        return None
    return first[1] or first[0]


def event_apply(*, group_id: str, event: RecordedEvent) -> Exception | None:
    """Apply one event for ``group_id`` (failure rules first); the exception, or None on success."""
    spec = failure_rules_wrap(consumer_spec(group_id))
    if spec.event_types is not None and event.event_type not in spec.event_types:
        return None
    try:
        with transaction.atomic():
            spec.handle_one(event)
    except Exception as exc:
        return exc
    return None


def error_class_name(error: BaseException) -> str:
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def failure_note(dead_letter: DeadLetter, error: BaseException, *, attempts: int = 1) -> None:
    """Write ``error`` onto ``dead_letter`` (not saved): class, message, traceback, attempts, times."""
    now = timezone.now()
    dead_letter.error_class = error_class_name(error)
    dead_letter.error_message = str(error)
    dead_letter.traceback = "".join(traceback.format_exception(error))
    dead_letter.fingerprint = failure_fingerprint(
        error_class=dead_letter.error_class, traceback_text=dead_letter.traceback
    )
    dead_letter.attempts += attempts
    dead_letter.first_failed_at = dead_letter.first_failed_at or now
    dead_letter.last_failed_at = now


def attempt_log(dead_letter: DeadLetter, *, by: str, error: BaseException | None = None, tries: int = 1) -> None:
    """Add a try to the dead letter's attempt log (saved; ``dead_letter`` must be saved already)."""
    DeadLetterAttempt.objects.create(
        dead_letter=dead_letter,
        at=timezone.now(),
        tries=tries,
        by=by,
        error_class=error_class_name(error) if error is not None else "",
        error_message=str(error) if error is not None else "",
    )


def resolve(dead_letter: DeadLetter, *, status: str, resolved_by: str, reason: str = "") -> None:
    dead_letter.status = status
    dead_letter.resolved_at = timezone.now()
    dead_letter.resolved_by = resolved_by
    if reason:
        dead_letter.skip_reason = reason
    dead_letter.save()
    if status == DeadLetterStatus.REPLAYED:
        attempt_log(dead_letter, by=resolved_by)
    read_model_changed_on_commit(source=DEAD_LETTERS_SOURCE)


@dataclass(frozen=True)
class Release:
    """What releasing a chain did: the dead letters replayed in order, and the one that failed."""

    released: tuple[int, ...]
    new_head: int | None


def parked_apply(dead_letter: DeadLetter, *, resolved_by: str) -> Exception | None:
    """Inside the chain lock: apply a parked follower; on failure it becomes the new head."""
    error = event_apply(group_id=dead_letter.group_id, event=dead_letter_event_read(dead_letter))
    if error is None:
        resolve(dead_letter, status=DeadLetterStatus.REPLAYED, resolved_by=resolved_by)
        return None
    old_head = dead_letter.blocked_by_id
    failure_note(dead_letter, error)
    dead_letter.blocked_by = None
    dead_letter.save()
    attempt_log(dead_letter, by=resolved_by, error=error)
    if old_head is not None:
        DeadLetter.objects.filter(blocked_by_id=old_head, status=PARKED).exclude(pk=dead_letter.pk).update(
            blocked_by=dead_letter
        )
    dlq_produce_on_commit(dead_letter.pk)
    return error


def chain_release(head: DeadLetter, *, resolved_by: str) -> Release:
    """Replay, in order, the events parked behind a resolved ``head``; stop at the first failure.

    Each event is applied in its own transaction with its status change, so a crash
    midway leaves every event either applied and marked or still parked.
    """
    released: list[int] = []
    while True:
        with transaction.atomic():
            chain_lock(group_id=head.group_id, stream_id=head.stream_id)
            follower = (
                DeadLetter.objects.select_for_update()
                .filter(blocked_by_id=head.pk, status=PARKED)
                .order_by("position")
                .first()
            )
            if follower is None:
                break
            if parked_apply(follower, resolved_by=resolved_by) is not None:
                parked_streams_forget(head.group_id)
                return Release(released=tuple(released), new_head=follower.pk)
            released.append(follower.pk)
    parked_streams_forget(head.group_id)
    return Release(released=tuple(released), new_head=None)
