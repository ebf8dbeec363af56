"""``python -m bench.console_dead_letters``: the dead-letter figures of ``bench.console``.

- The dead-letter page (failure groups, match count and the newest page of the flat
  list) with ``BENCH_DL_ROWS`` (default 100,000) dead letters, filtered in turn by
  nothing, consumer group, error class, fingerprint, message text and a time range:
  p95 server time (Django's test client, in-process), beside the same page with none.
- A bulk replay job of ``BENCH_DL_REPLAY`` (default 10,000) dead letters of the
  ``order_summary`` projection, unthrottled, run as the Celery task runs it: dead letters
  replayed per second, beside the projection's own handler applying the same number of
  other events directly (no dead-letter bookkeeping: the ceiling).

The database ``eda_bench_console_dl`` is dropped and created.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from typing import Any

from bench.common import database_recreate, database_url, machine_note, phase, stderr
from bench.figure import Figure, figure_print
from eda_console.env import env_int

DATABASE = "eda_bench_console_dl"
ROWS = env_int("BENCH_DL_ROWS", 100_000)
REPLAY = env_int("BENCH_DL_REPLAY", 10_000)
REQUESTS = env_int("BENCH_CONSOLE_REQUESTS", 60)
PROJECTION = "order_summary"
GROUPS = ("projection.order_activity", "projection.customer_order_stats", "saga.orders", "projection.stock_level")
ERRORS = (
    ("builtins.LookupError", "read model row for order {n} is missing", "apps/projections/projectors/orders.py:apply"),
    ("apps.messaging.dead_letters.errors.InjectedFailure", "failure rule 3 matched: order {n}", "fault_injection.py:x"),
    ("psycopg.errors.DeadlockDetected", "deadlock detected while applying {n}", "apps/projections/rowset.py:save"),
    ("builtins.ValueError", "timeout talking to payment gateway for {n}", "apps/sagas/participants.py:charge"),
)
SEED_BATCH = 5000


def _setup() -> None:
    os.environ["DATABASE_URL"] = database_url(DATABASE)
    os.environ.setdefault("EDA_VAR_DIR", "/tmp/eda_bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "eda_console.settings"
    import django

    django.setup()


def _seed_rows(total: int) -> None:
    """``total`` dead letters over four groups and many fingerprints; a tenth parked behind a head."""
    from django.db import connection
    from django.utils import timezone

    from apps.messaging.dead_letters import DeadLetter

    start = timezone.now() - dt.timedelta(days=7)
    with phase(f"seeding {total:,} dead letters", total) as advance:
        for first in range(0, total, SEED_BATCH):
            rows = []
            for n in range(first, min(first + SEED_BATCH, total)):
                error_class, message, frame = ERRORS[n % len(ERRORS)]
                behind = n % 10 == 9
                rows.append(
                    DeadLetter(
                        group_id=GROUPS[n % len(GROUPS)],
                        position=1_000_000 + n,
                        stream_id=f"order-{n // 10 if behind else n}",
                        event_type=("OrderPlaced", "OrderConfirmed", "OrderShipped")[n % 3],
                        topic="order-events",
                        partition=n % 10,
                        offset=n,
                        error_class="" if behind else error_class,
                        error_message="" if behind else message.format(n=n),
                        fingerprint="" if behind else f"{error_class} @ {frame}{n % 7}",
                        traceback="Traceback (most recent call last):\n" * (0 if behind else 1),
                        attempts=0 if behind else 3,
                        first_failed_at=start + dt.timedelta(seconds=6 * n),
                        last_failed_at=start + dt.timedelta(seconds=6 * n + 1),
                        status=("parked", "parked", "parked", "replayed", "skipped")[n % 5],
                    )
                )
            DeadLetter.objects.bulk_create(rows)
            advance(len(rows))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {DeadLetter._meta.db_table}")


def _user(name: str, role: str) -> Any:
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(username=name)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _viewer_client() -> Any:
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(_user("bench-viewer", "viewer"))
    return client


def _page_paths() -> list[str]:
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    next_day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    fingerprint = f"{ERRORS[0][0]} @ {ERRORS[0][2]}3".replace(" ", "+").replace("@", "%40")
    return [
        "/dead-letters/",
        f"/dead-letters/?group={GROUPS[1]}",
        "/dead-letters/?error_class=LookupError&status=",
        f"/dead-letters/?fingerprint={fingerprint}",
        "/dead-letters/?q=payment+gateway",
        f"/dead-letters/?from={day}&to={next_day}&status=",
        "/dead-letters/sequenced/",
    ]


def _p95_ms(client: Any, paths: list[str]) -> float:
    times = []
    for index in range(REQUESTS + len(paths)):
        path = paths[index % len(paths)]
        started = time.perf_counter()
        status = client.get(path).status_code
        if index >= len(paths):
            times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"bench: {path} answered {status}")
    times.sort()
    return times[min(len(times) - 1, int(len(times) * 0.95))]


def _orders(count: int, *, prefix: str) -> list[Any]:
    """``count`` one-event order streams (OrderPlaced); returns them as stored."""
    from apps.eventstore.store import append_to_stream, global_log_read
    from apps.eventstore.types import NO_STREAM, NewEvent

    first = None
    with phase(f"appending {count:,} orders ({prefix})", count) as advance:
        for n in range(count):
            order_id = f"{prefix}-{n}-{uuid.uuid4().hex[:6]}"
            data = {
                "order_id": order_id,
                "customer_id": f"cust-{n % 500}",
                "currency": "EUR",
                "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}],
            }
            result = append_to_stream(
                stream_id=f"order-{order_id}",
                stream_type="order",
                expected_version=NO_STREAM,
                events=[NewEvent("OrderPlaced", data, {"correlation_id": str(uuid.uuid4()), "actor": "bench"})],
            )
            first = first or result.first_position
            advance(1)
    return global_log_read(after=(first or 1) - 1, limit=count)


def _replay_figures() -> tuple[float, float]:
    from django.db import transaction
    from django.utils import timezone

    from apps.messaging.dead_letters import DeadLetter, DeadLetterFilter
    from apps.messaging.dead_letters.replay_job_runner import dead_letter_replay_job_run
    from apps.messaging.dead_letters.replay_jobs import dead_letter_replay_job_request
    from apps.messaging.registry import consumer_spec
    from apps.projections.live import consumer_group_for

    group = consumer_group_for(PROJECTION)
    spec = consumer_spec(group)
    direct = _orders(REPLAY, prefix="direct")
    started = time.perf_counter()
    with phase("reference: the handler applying directly", len(direct)) as advance:
        for event in direct:
            with transaction.atomic():
                spec.handle_one(event)
            advance(1)
    reference = len(direct) / (time.perf_counter() - started)

    parked = _orders(REPLAY, prefix="parked")
    now = timezone.now()
    DeadLetter.objects.bulk_create(
        DeadLetter(
            group_id=group,
            position=event.position,
            stream_id=event.stream_id,
            event_type=event.event_type,
            topic="order-events",
            partition=0,
            offset=event.position,
            error_class="builtins.LookupError",
            error_message="bench",
            fingerprint="builtins.LookupError @ bench",
            attempts=3,
            first_failed_at=now,
            last_failed_at=now,
        )
        for event in parked
    )
    job = dead_letter_replay_job_request(
        filters=DeadLetterFilter(group_id=group),
        rate_limit=None,
        actor=_user("bench-operator", "operator"),
        enqueue=False,
    )
    stderr.print(f"bench: bulk replay of {REPLAY:,} dead letters (progress is pushed to the browsers as it goes)")
    started = time.perf_counter()
    job = dead_letter_replay_job_run(job_id=job.id)
    elapsed = time.perf_counter() - started
    if job.status != "done" or job.replayed != REPLAY:
        raise SystemExit(f"bench: the bulk replay ended {job.status} with {job.replayed} replayed: {job.detail}")
    return job.replayed / elapsed, reference


def dead_letter_figures() -> None:
    """Print the dead-letter figures (sets up its own database; call before anything else sets Django up)."""
    with phase("preparing the dead-letter bench database", 1) as advance:
        database_recreate(DATABASE)
        _setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        advance(1)
    client = _viewer_client()
    paths = _page_paths()
    empty = _p95_ms(client, paths)
    _seed_rows(ROWS)
    figure_print(
        Figure(
            f"dead-letter list and groups p95 server time, {ROWS:,} dead letters, filtered",
            _p95_ms(client, paths),
            "ms",
            "the same pages with no dead letter",
            empty,
            "<= 200 ms",
        )
    )
    rate, reference = _replay_figures()
    figure_print(
        Figure(
            f"bulk replay of {REPLAY:,} dead letters, unthrottled",
            rate,
            "replayed/s",
            "the projection's handler applying directly",
            reference,
            ">= 1,000 replayed/s",
        )
    )


if __name__ == "__main__":
    machine_note()
    dead_letter_figures()
