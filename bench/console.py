"""``python -m bench.console``: the console's speed figures, each beside its reference.

Server time is measured in-process with Django's test client (middleware, selectors and
templates; no network), as p95 over ``BENCH_CONSOLE_REQUESTS`` requests:

- overview and consumers pages with ``BENCH_CONSOLE_EVENTS`` (default 1,000,000) events
  stored, beside the same pages on an empty store measured first in the same run;
- a stream page of a 10,000-event stream (first, a middle and the last page, with the
  keyset links), beside the same page of a one-event stream;
- a saga page of a saga with 50 step attempts, beside a one-attempt saga's page
  (``bench/console_sagas.py``);
- the dead-letter figures (list and groups with 100,000 dead letters, bulk replay of
  10,000), in a process of their own: see ``bench/console_dead_letters.py``.

The browser figures (append -> shown in the live stream at 200 events/s, and the longest
main-thread task at 1,000 events/s) run the whole stack in Chromium: see
``bench/console_live.py``. The database ``eda_bench_console`` is dropped and created.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

from bench.common import (
    database_recreate,
    database_url,
    machine_note,
    phase,
    stderr,
)
from bench.figure import Figure, figure_print
from eda_console.env import env_int

DATABASE = "eda_bench_console"
EVENTS = env_int("BENCH_CONSOLE_EVENTS", 1000000)
REQUESTS = env_int("BENCH_CONSOLE_REQUESTS", 60)
EVENTS_PER_ORDER = 20
LONG_STREAM = 10_000
WARMUP = 5


def _setup(database: str = DATABASE) -> None:
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ.setdefault("EDA_VAR_DIR", "/tmp/eda_bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "eda_console.settings"
    import django

    django.setup()


def database_alone(database: str) -> None:
    """A fresh, migrated ``database`` for one console figure run on its own (``python -m bench.console_<x>``)."""
    machine_note()
    with phase("preparing the bench database", 1) as advance:
        database_recreate(database)
        _setup(database)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        advance(1)


def p95_ms(get: Callable[[], int], requests: int = REQUESTS) -> float:
    """p95 server time of ``get`` (which returns the status code) in milliseconds."""
    for _ in range(WARMUP):
        get()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        status = get()
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"bench: a console page answered {status}")
    times.sort()
    return times[min(len(times) - 1, int(len(times) * 0.95))]


def _client():  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench-viewer")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _order_events(order_id: str) -> list:  # type: ignore[type-arg]
    from apps.eventstore.types import NewEvent
    from apps.orders.domain import events as ev

    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}]
    placed = ev.OrderPlaced(order_id=order_id, customer_id=f"cust-{hash(order_id) % 5000}", currency="EUR", lines=lines)
    added = [
        ev.OrderLineAdded(order_id=order_id, sku=f"SKU-{i}", quantity=1, unit_price_cents=10 * i)
        for i in range(EVENTS_PER_ORDER - 2)
    ]
    confirmed = ev.OrderConfirmed(order_id=order_id)
    metadata = {"correlation_id": str(uuid.uuid4()), "actor": "bench", "command": "Seed"}
    return [NewEvent(e.type, e.to_data(), metadata) for e in (placed, *added, confirmed)]


def _seed(total: int) -> tuple[str, str]:
    """``total`` events in orders of 20, one 10,000-event stream, read models caught up; returns two stream ids."""
    from django.utils import timezone

    from apps.eventstore.store import append_to_stream, head_position
    from apps.eventstore.types import NO_STREAM, NewEvent
    from apps.projections.models import OrderSummary, ProjectionCheckpoint
    from apps.projections.projectors import PROJECTORS

    long_id = "bench-long"
    with phase("seeding the long stream", LONG_STREAM) as advance:
        events = _order_events(long_id)[:1]
        events += [NewEvent("OrderLineAdded", {**_order_events(long_id)[1].data}) for _ in range(999)]
        append_to_stream(stream_id=f"order-{long_id}", stream_type="order", expected_version=NO_STREAM, events=events)
        advance(1000)
        filler = [NewEvent("OrderLineAdded", {**_order_events(long_id)[1].data}) for _ in range(1000)]
        for version in range(1000, LONG_STREAM, 1000):
            append_to_stream(stream_id=f"order-{long_id}", stream_type="order", expected_version=version, events=filler)
            advance(1000)
    short_id = "bench-short"
    append_to_stream(
        stream_id=f"order-{short_id}",
        stream_type="order",
        expected_version=NO_STREAM,
        events=_order_events(short_id)[:1],
    )
    orders = max(0, (total - LONG_STREAM) // EVENTS_PER_ORDER)
    summaries = []
    now = timezone.now()
    statuses = ("placed", "confirmed", "shipped", "cancelled")
    with phase(f"seeding {orders:,} orders of {EVENTS_PER_ORDER} events", orders) as advance:
        for index in range(orders):
            order_id = f"seed-{index:07d}"
            append_to_stream(
                stream_id=f"order-{order_id}",
                stream_type="order",
                expected_version=NO_STREAM,
                events=_order_events(order_id),
            )
            summaries.append(
                OrderSummary(
                    order_id=order_id,
                    customer_id=f"cust-{index % 5000}",
                    status=statuses[index % 4],
                    currency="EUR",
                    total_cents=100 * index % 100_000,
                    line_count=EVENTS_PER_ORDER - 1,
                    placed_at=now,
                    updated_at=now,
                    last_position=0,
                )
            )
            if len(summaries) == 5000:
                OrderSummary.objects.bulk_create(summaries)
                summaries = []
            advance(1)
    OrderSummary.objects.bulk_create(summaries)
    head = head_position()
    # The live consumers would have caught up; the pages read the same rows they would.
    for name in PROJECTORS:
        ProjectionCheckpoint.objects.update_or_create(
            projection=name, defaults={"position": head, "settled_position": head, "updated_at": now}
        )
    return f"order-{long_id}", f"order-{short_id}"


def _status(client, path: str) -> Callable[[], int]:  # type: ignore[no-untyped-def]
    return lambda: int(client.get(path).status_code)


def _pages(client, paths: list[str]) -> Callable[[], int]:  # type: ignore[no-untyped-def]
    index = [0]

    def get() -> int:
        index[0] += 1
        return int(client.get(paths[index[0] % len(paths)]).status_code)

    return get


def main() -> None:
    machine_note()
    with phase("preparing the bench database", 1) as advance:
        database_recreate(DATABASE)
        _setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        advance(1)
    client = _client()
    empty = {path: p95_ms(_status(client, path)) for path in ("/", "/consumers/")}
    long_id, short_id = _seed(EVENTS)
    from apps.eventstore.store import head_position

    stored = head_position()
    stderr.print(f"bench: {stored:,} events stored")
    for name, path in (("overview page", "/"), ("consumers page", "/consumers/")):
        figure_print(
            Figure(
                f"{name} p95 server time, {stored:,} events",
                p95_ms(_status(client, path)),
                "ms",
                f"{name} with an empty store",
                empty[path],
                "<= 150 ms",
            )
        )
    long_pages = [
        f"/aggregates/stream/{long_id}",
        f"/aggregates/stream/{long_id}?after=5000",
        f"/aggregates/stream/{long_id}?before={LONG_STREAM + 1}",
    ]
    figure_print(
        Figure(
            f"stream page p95 server time, {LONG_STREAM:,}-event stream",
            p95_ms(_pages(client, long_pages)),
            "ms",
            "a 1-event stream's page",
            p95_ms(_status(client, f"/aggregates/stream/{short_id}")),
            "<= 200 ms",
        )
    )
    from bench.console_sagas import saga_page_figure

    saga_page_figure(p95_ms)
    from bench.console_live import live_figures

    live_figures()
    # A process of its own: this one's Django is set up on the other bench database.
    done = subprocess.run([sys.executable, "-m", "bench.console_dead_letters"], check=False)
    if done.returncode:
        print(f"bench: dead-letter figures: not measured (exit code {done.returncode})", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
