"""The saga timeline figure: a bar per attempt, the waits between attempts, compensations under their step."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from apps.console.charts import build_saga_timeline_figure

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@dataclass
class Attempt:
    name: str
    target: str
    sequence: int
    attempt: int
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    kind: str = "action"
    compensates: str = ""
    wait_before_ms: int = 0
    max_attempts: int = 3
    deadline_at: dt.datetime | None = None
    outcome: str = ""


def trace(figure: Any, name: str) -> Any:
    return next(t for t in figure.data if t.name == name)


DECLINED_SAGA = [
    Attempt("reserve_stock", "sku-1", 1, 1, "succeeded", at(0), at(0.1), outcome="reserved"),
    Attempt("reserve_stock", "sku-2", 2, 1, "succeeded", at(0.1), at(0.2), outcome="reserved"),
    Attempt("authorize_payment", "o-1", 3, 1, "timed_out", at(0.2), at(2.2), outcome="no reply by the deadline"),
    Attempt("authorize_payment", "o-1", 3, 2, "rejected", at(3.2), at(3.3), wait_before_ms=1000, outcome="declined"),
    Attempt(
        "release_stock", "sku-2", 5, 1, "succeeded", at(3.4), at(3.5), kind="compensation", compensates="reserve_stock"
    ),
    Attempt(
        "release_stock", "sku-1", 6, 1, "succeeded", at(3.5), at(3.6), kind="compensation", compensates="reserve_stock"
    ),
    Attempt("cancel_order", "o-1", 7, 1, "succeeded", at(3.6), at(3.7), kind="compensation"),
]


def test_every_attempt_is_its_own_bar_on_its_step_row_with_its_duration() -> None:
    figure = build_saga_timeline_figure(DECLINED_SAGA, now=at(10))

    attempts = trace(figure, "attempt")
    assert len(attempts.x) == len(DECLINED_SAGA)
    assert list(attempts.y).count("authorize_payment · o-1") == 2
    assert list(attempts.text)[2:4] == ["#1", "#2"]
    assert list(attempts.x)[2] == 2000.0  # the timed-out attempt lasted until its deadline
    assert list(attempts.base)[3] == at(3.2).isoformat()


def test_the_wait_before_a_retry_is_drawn_as_its_own_segment_ending_where_the_attempt_starts() -> None:
    figure = build_saga_timeline_figure(DECLINED_SAGA, now=at(10))

    waits = trace(figure, "wait")
    assert list(waits.y) == ["authorize_payment · o-1"]
    assert list(waits.base) == [at(2.2).isoformat()]
    assert list(waits.x) == [1000.0]
    assert waits.marker.pattern.shape == "/"


def test_each_compensation_has_its_own_row_right_under_the_step_it_undoes_in_another_colour() -> None:
    figure = build_saga_timeline_figure(DECLINED_SAGA, now=at(10))

    assert list(figure.layout.yaxis.categoryarray) == [
        "reserve_stock · sku-1",
        "↺ release_stock · sku-1",
        "reserve_stock · sku-2",
        "↺ release_stock · sku-2",
        "authorize_payment · o-1",
        "↺ cancel_order · o-1",
    ]
    colours = dict(zip(trace(figure, "attempt").y, trace(figure, "attempt").marker.color, strict=True))
    assert colours["↺ release_stock · sku-1"] != colours["reserve_stock · sku-1"]


def test_a_pending_attempt_is_drawn_up_to_now_with_its_deadline_beyond() -> None:
    pending = Attempt("authorize_payment", "o-1", 3, 1, "pending", at(0), None, deadline_at=at(5))

    figure = build_saga_timeline_figure([pending], now=at(2))

    assert list(trace(figure, "attempt").x) == [2000.0]
    deadline = trace(figure, "until deadline")
    assert list(deadline.base) == [at(2).isoformat()]
    assert list(deadline.x) == [3000.0]


def test_names_from_the_store_are_escaped_for_plotly_labels() -> None:
    hostile = Attempt("reserve_stock", "<b>sku</b>", 1, 1, "succeeded", at(0), at(1))

    figure = build_saga_timeline_figure([hostile], now=at(2))

    assert list(figure.layout.yaxis.categoryarray) == ["reserve_stock · &lt;b&gt;sku&lt;/b&gt;"]


def test_a_step_on_the_sagas_own_order_is_labelled_by_its_name_alone() -> None:
    figure = build_saga_timeline_figure(DECLINED_SAGA, now=at(10), subject="o-1")

    rows = list(figure.layout.yaxis.categoryarray)
    assert "authorize_payment" in rows and "↺ cancel_order" in rows
    assert "reserve_stock · sku-1" in rows


def test_a_saga_without_steps_says_so() -> None:
    figure = build_saga_timeline_figure([], now=at(0))

    assert figure.layout.annotations[0].text == "no step has been sent yet"
