"""The orchestrator's state changes in one process (no pipeline): which events start, settle or change nothing."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.eventstore.store import correlation_read, stream_read
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.sagas import steps
from apps.sagas.answers import answer_appended, answer_of
from apps.sagas.consumer import saga_events_handle
from apps.sagas.engine import STEP_TASK, attempt_claim, attempt_fail, saga_answer_apply, saga_start
from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep
from apps.sagas.steps import saga_steps_run
from apps.sagas.timeouts import saga_overdue_attempts_handle

pytestmark = pytest.mark.django_db(transaction=True)

CTX = handlers.CommandContext(actor="engine-test", correlation_id="corr-engine")


def placed(order_id: str, *, skus: tuple[str, ...] = ("sku-e",)) -> None:
    for sku in skus:
        handlers.add_stock(cmds.AddStock(sku=sku, quantity=10), CTX)
    lines = tuple(cmds.OrderLine(sku=sku, quantity=1, unit_price_cents=100) for sku in skus)
    handlers.place_order(cmds.PlaceOrder(order_id=order_id, customer_id="c", currency="EUR", lines=lines), CTX)


def saga_started(order_id: str, *, skus: tuple[str, ...] = ("sku-e",)) -> SagaInstance:
    """Place an order of a line per sku and start its saga from the OrderPlaced."""
    placed(order_id, skus=skus)
    with transaction.atomic():
        saga = saga_start(event=stream_read(stream_id=f"order-{order_id}")[0])
    assert saga is not None
    return saga


def saga_placed(order_id: str) -> tuple[SagaInstance, SagaStep]:
    """Place an order, start its saga from the OrderPlaced; the saga and its first reservation attempt."""
    saga = saga_started(order_id)
    return saga, SagaStep.objects.get(saga=saga, name="reserve_stock")


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split(" WHERE ")[0][:90] for query in queries.captured_queries]


def test_an_order_settled_before_its_orderplaced_arrives_starts_no_saga(settings: object) -> None:
    placed("o-settled")
    handlers.confirm_order(cmds.ConfirmOrder(order_id="o-settled"), CTX)
    event = stream_read(stream_id="order-o-settled")[0]

    with transaction.atomic():
        started = saga_start(event=event)

    assert started is None
    assert not SagaInstance.objects.exists()


def test_an_answer_after_the_deadline_settles_the_newest_attempt_once() -> None:
    saga, first = saga_placed("o-late")
    with transaction.atomic():
        attempt_fail(step_id=first.pk, status=AttemptStatus.TIMED_OUT, outcome="no reply by the deadline")
    # The first attempt's command did land, late.
    handlers.reserve_stock(cmds.ReserveStock(sku="sku-e", order_id="o-late", quantity=1), CTX)
    answer = answer_of(stream_read(stream_id="stock-sku-e")[-1])
    assert answer is not None

    with transaction.atomic():
        applied = saga_answer_apply(answer)
    with transaction.atomic():
        again = saga_answer_apply(answer)

    rows = list(SagaStep.objects.filter(saga=saga).order_by("pk").values_list("name", "attempt", "status"))
    assert (applied, again) == (True, False)
    assert rows == [
        ("reserve_stock", 1, AttemptStatus.TIMED_OUT),
        ("reserve_stock", 2, AttemptStatus.SUCCEEDED),
        ("authorize_payment", 1, AttemptStatus.PENDING),
    ]
    assert SagaStep.objects.get(saga=saga, attempt=2, name="reserve_stock").wait_before_ms == 1000


def _sends_recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """Record the step tasks the engine enqueues instead of sending them."""
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(
        "apps.sagas.engine.current_app.send_task", lambda name, args, **options: sent.append((name, list(args)))
    )
    return sent


def test_a_step_task_runs_the_sagas_next_steps_itself_and_queues_none(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _sends_recorded(monkeypatch)
    saga, reserve = saga_placed("o-chain")
    assert sent == [(STEP_TASK, [reserve.pk])]

    # One task: the reservation, then the payment and the confirmation it leads to.
    saga_steps_run(step_ids=[reserve.pk])

    saga.refresh_from_db()
    steps = list(SagaStep.objects.filter(saga=saga).order_by("pk").values_list("name", "status"))
    assert saga.status == SagaStatus.COMPLETED
    assert steps == [
        ("reserve_stock", AttemptStatus.SUCCEEDED),
        ("authorize_payment", AttemptStatus.SUCCEEDED),
        ("confirm_order", AttemptStatus.SUCCEEDED),
    ]
    assert sent == [(STEP_TASK, [reserve.pk])]


def test_a_claimed_attempt_its_task_never_ran_is_timed_out_and_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _sends_recorded(monkeypatch)
    saga, reserve = saga_placed("o-lost-claim")
    handlers.reserve_stock(cmds.ReserveStock(sku="sku-e", order_id="o-lost-claim", quantity=1), CTX)
    answer = answer_of(stream_read(stream_id="stock-sku-e")[-1])
    assert answer is not None
    # The task settles the reservation and claims the payment step, then dies before running it.
    with attempt_claim() as claimed, transaction.atomic():
        saga_answer_apply(answer)
    (lost,) = [row.pk for row in claimed]
    # Claimed, so not queued: only the reservation was ever sent.
    assert SagaStep.objects.get(pk=lost).name == "authorize_payment"
    assert sent == [(STEP_TASK, [reserve.pk])]
    SagaStep.objects.filter(pk=lost).update(deadline_at=timezone.now() - dt.timedelta(seconds=1))

    handled = saga_overdue_attempts_handle()

    attempts = list(SagaStep.objects.filter(saga=saga, name="authorize_payment").order_by("attempt"))
    assert handled == 1
    assert [(a.attempt, a.status) for a in attempts] == [(1, AttemptStatus.TIMED_OUT), (2, AttemptStatus.PENDING)]
    assert sent[-1] == (STEP_TASK, [attempts[1].pk])


def test_the_answer_a_command_returns_is_the_one_the_store_reads_back() -> None:
    handlers.add_stock(cmds.AddStock(sku="sku-a", quantity=1), CTX)
    reserved = handlers.reserve_stock(cmds.ReserveStock(sku="sku-a", order_id="o-a", quantity=1), CTX)
    rejected = handlers.reserve_stock(cmds.ReserveStock(sku="sku-a", order_id="o-b", quantity=1), CTX)

    built = [answer_appended(result) for result in (reserved, rejected)]
    read = [answer_of(event) for event in stream_read(stream_id="stock-sku-a")[1:]]

    assert [(a.step, a.target, a.status, a.outcome, a.event_id) for a in built if a is not None] == [
        ("reserve_stock", "sku-a", "succeeded", "reserved 1", str(reserved.last_position)),
        ("reserve_stock", "sku-a", "rejected", "rejected: 1 asked, 0 available", str(rejected.last_position)),
    ]
    assert [(a.order_id, a.step, a.target, a.status, a.outcome, a.event_id) for a in built if a is not None] == [
        (a.order_id, a.step, a.target, a.status, a.outcome, a.event_id) for a in read if a is not None
    ]
    assert [(a.event.stream_id, a.event.event_type, dict(a.event.data)) for a in built if a is not None] == [
        (a.event.stream_id, a.event.event_type, dict(a.event.data)) for a in read if a is not None
    ]


def test_an_answer_settles_its_attempt_and_records_the_next_step_in_seven_statements() -> None:
    _, reserve = saga_placed("o-count")
    result = handlers.reserve_stock(cmds.ReserveStock(sku="sku-e", order_id="o-count", quantity=1), CTX)
    answer = answer_appended(result)
    assert answer is not None

    with CaptureQueriesContext(connection) as queries, attempt_claim() as claimed, transaction.atomic():
        saga_answer_apply(answer)

    # BEGIN, lock the saga, read its attempts, settle the attempt, move the saga, record the next, COMMIT.
    assert len(queries) <= 7, "\n".join(_statements(queries))
    assert [row.name for row in claimed] == ["authorize_payment"]
    assert SagaStep.objects.get(pk=reserve.pk).status == AttemptStatus.SUCCEEDED


def test_the_consumer_turns_away_answers_already_taken_with_one_query_per_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = _sends_recorded(monkeypatch)
    saga, _ = saga_placed("o-taken")
    saga_steps_run(step_ids=sent[0][1])
    answers = [event for event in correlation_read(correlation_id=saga.correlation_id) if answer_of(event)]
    assert len(answers) == 3
    steps_before = list(SagaStep.objects.filter(saga=saga).order_by("pk").values())

    with CaptureQueriesContext(connection) as queries:
        saga_events_handle(answers)

    # BEGIN, the cursors, which answers are taken, the cursors written, COMMIT: no saga lock.
    assert len(queries) == 5, "\n".join(_statements(queries))
    assert list(SagaStep.objects.filter(saga=saga).order_by("pk").values()) == steps_before


def test_a_saga_start_sends_its_reservations_in_one_task_that_runs_them_back_to_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = _sends_recorded(monkeypatch)
    saga = saga_started("o-lines", skus=("sku-x", "sku-y"))
    reserves = list(SagaStep.objects.filter(saga=saga).order_by("pk").values_list("pk", "target"))
    assert [target for _, target in reserves] == ["sku-x", "sku-y"]
    assert sent == [(STEP_TASK, [pk for pk, _ in reserves])]

    saga_steps_run(step_ids=sent[0][1])

    saga.refresh_from_db()
    assert saga.status == SagaStatus.COMPLETED
    assert len(sent) == 1
    assert [e.event_type for e in stream_read(stream_id="stock-sku-x")] == ["StockAdded", "StockReserved"]
    assert [e.event_type for e in stream_read(stream_id="stock-sku-y")] == ["StockAdded", "StockReserved"]


def test_an_attempt_the_beat_timed_out_while_it_waited_behind_another_in_its_task_is_not_sent(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    sent = _sends_recorded(monkeypatch)
    settings.SAGA_STEP_TIMEOUT_SECONDS = 0.3
    saga = saga_started("o-behind", skus=("sku-p", "sku-q"))
    first, second = SagaStep.objects.filter(saga=saga).order_by("pk")
    # Only the second is to pass its deadline: the first runs while the beat looks.
    SagaStep.objects.filter(pk=first.pk).update(deadline_at=timezone.now() + dt.timedelta(hours=1))
    command_run = steps.participant_command_run
    timed_out: list[int] = []

    def slow_on_sku_p(*, command: Any, **kwargs: Any) -> Any:
        # The first reservation takes long enough for the second, waiting behind it in the
        # task, to pass its deadline; the beat task times it out meanwhile. (Asserted after
        # the run: the step task would take an exception raised here for the command's.)
        result = command_run(command=command, **kwargs)
        if getattr(command, "sku", "") == "sku-p":
            assert second.deadline_at is not None
            time.sleep(max(0.0, (second.deadline_at - timezone.now()).total_seconds()) + 0.05)
            timed_out.append(saga_overdue_attempts_handle())
        return result

    monkeypatch.setattr(steps, "participant_command_run", slow_on_sku_p)

    saga_steps_run(step_ids=[first.pk, second.pk])

    assert timed_out == [1]
    assert SagaStep.objects.get(pk=first.pk).status == AttemptStatus.SUCCEEDED

    attempts = list(SagaStep.objects.filter(saga=saga, target="sku-q").order_by("attempt"))
    assert [(a.attempt, a.status) for a in attempts] == [(1, AttemptStatus.TIMED_OUT), (2, AttemptStatus.PENDING)]
    # The timed-out attempt was not sent; its retry waits out its backoff in the queue.
    assert [e.event_type for e in stream_read(stream_id="stock-sku-q")] == ["StockAdded"]
    assert sent[-1] == (STEP_TASK, [attempts[1].pk])


def test_an_attempt_that_raises_sends_the_attempts_waiting_behind_it_in_a_task_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = _sends_recorded(monkeypatch)
    saga = saga_started("o-raises", skus=("sku-r", "sku-s"))
    first, second = SagaStep.objects.filter(saga=saga).order_by("pk")

    def settle_fails(answer: Any) -> bool:
        raise RuntimeError("the database went away while settling")

    monkeypatch.setattr(steps, "saga_answer_apply", settle_fails)
    sent.clear()

    with pytest.raises(RuntimeError, match="went away"):
        saga_steps_run(step_ids=[first.pk, second.pk])

    assert sent == [(STEP_TASK, [second.pk])]
    assert SagaStep.objects.get(pk=second.pk).status == AttemptStatus.PENDING
