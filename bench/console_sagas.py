"""The saga page's server time: a saga with 50 step attempts, beside a saga with one.

Run alone with ``python -m bench.console_sagas`` (its own database ``eda_bench_console_sagas``),
or as part of ``python -m bench.console``, which calls :func:`saga_page_figure` in its
database. The saga rows are written directly through the models: the page reads rows, and
how they came to be does not change what it costs. Each attempt's answer is a real stored
event of the saga's correlation, so the page resolves every answer's stream version as it
would in production. The client is an operator's: the page also asks each action's preview.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from bench.common import phase, stderr
from bench.figure import Figure, figure_print

ATTEMPTS = 50


def _operator_client():  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench-operator")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _saga_seed(*, attempts: int) -> str:
    """A stuck saga whose payment step was tried ``attempts`` times, each answered by a stored event."""
    from apps.eventstore.store import append_to_stream
    from apps.eventstore.types import NO_STREAM, NewEvent
    from tests.support.saga_rows import AttemptSpec, saga_row_create

    order_id = f"bench-saga-{uuid.uuid4().hex[:8]}"
    correlation_id = str(uuid.uuid4())
    metadata = {"correlation_id": correlation_id, "actor": "bench", "command": "Seed"}
    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}]
    placed = NewEvent(
        "OrderPlaced", {"order_id": order_id, "customer_id": "c-1", "currency": "EUR", "lines": lines}, metadata
    )
    line = {"order_id": order_id, "sku": "SKU-2", "quantity": 1, "unit_price_cents": 10}
    answers = [NewEvent("OrderLineAdded", line, metadata) for _ in range(attempts - 1)]
    stream_id = f"order-{order_id}"
    result = append_to_stream(
        stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[placed, *answers]
    )
    specs = [
        AttemptSpec(
            "authorize_payment",
            order_id,
            "timed_out" if number < attempts else "pending",
            attempt=number,
            max_attempts=attempts,
            wait_before_ms=0 if number == 1 else 250,
            outcome="no reply by the deadline",
            answer_event_type="OrderLineAdded",
            answer_stream_id=stream_id,
            answer_position=result.first_position + number - 1,
        )
        for number in range(1, attempts + 1)
    ]
    saga = saga_row_create(
        order_id=order_id,
        correlation_id=correlation_id,
        status="running",
        attempts=specs,
        current_step="authorize_payment",
    )
    return str(saga.id)


def saga_page_figure(p95_ms: Callable[[Callable[[], int]], float]) -> None:
    """Print the saga page's p95 with ``ATTEMPTS`` attempts, beside the page of a one-attempt saga."""
    client = _operator_client()

    def page(saga_id: str) -> Callable[[], int]:
        return lambda: int(client.get(f"/sagas/{saga_id}/").status_code)

    with phase("seeding two sagas", 2) as advance:
        long_saga = _saga_seed(attempts=ATTEMPTS)
        advance(1)
        short_saga = _saga_seed(attempts=1)
        advance(1)
    figure_print(
        Figure(
            f"saga page p95 server time, {ATTEMPTS} step attempts",
            p95_ms(page(long_saga)),
            "ms",
            "a one-attempt saga's page",
            p95_ms(page(short_saga)),
            "<= 150 ms",
        )
    )


def main() -> None:
    from bench.console import database_alone, p95_ms

    database_alone(DATABASE)
    saga_page_figure(p95_ms)
    stderr.print("bench: saga page measured")


DATABASE = "eda_bench_console_sagas"

if __name__ == "__main__":
    main()
