"""The participants' answers: which event answers which step, and finding an answer already in the store.

A command's answer is the event its handler appended, taken from the handler's result
(:func:`answer_appended`) rather than read back. An idempotent handler that finds its
effect already there appends nothing (a second reserve for the same order is a no-op),
so a retry after a lost reply gets no new event; its answer is the one the participant
gave before, read back from the participant's stream (:func:`answer_find`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from apps.eventstore.store import event_read, stream_page_read, stream_version
from apps.orders.handlers import CommandResult

SUCCEEDED, REJECTED = "succeeded", "rejected"

# Event type -> (step it answers, whether the answer is a yes).
ANSWERS: dict[str, tuple[str, str]] = {
    "StockReserved": ("reserve_stock", SUCCEEDED),
    "StockReservationRejected": ("reserve_stock", REJECTED),
    "PaymentAuthorized": ("authorize_payment", SUCCEEDED),
    "PaymentDeclined": ("authorize_payment", REJECTED),
    "OrderConfirmed": ("confirm_order", SUCCEEDED),
    "StockReleased": ("release_stock", SUCCEEDED),
    "PaymentRefunded": ("refund_payment", SUCCEEDED),
    "OrderCancelled": ("cancel_order", SUCCEEDED),
}
SAGA_EVENT_TYPES = frozenset({"OrderPlaced", *ANSWERS})
_STREAM_OF = {
    "reserve_stock": "stock",
    "release_stock": "stock",
    "authorize_payment": "payment",
    "refund_payment": "payment",
    "confirm_order": "order",
    "cancel_order": "order",
}
# How far back a participant stream is searched for an earlier answer (pages of _PAGE).
_PAGE = 200
_PAGES = 25


class AnswerEvent(Protocol):
    """What an answer needs of its event: a stored event (``RecordedEvent``) or one just appended."""

    @property
    def position(self) -> int: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class _AppendedEvent:
    position: int
    stream_id: str
    event_type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class Answer:
    """An event read as the answer to one step of the saga of ``order_id``."""

    order_id: str
    step: str
    target: str
    status: str
    outcome: str
    event: AnswerEvent

    @property
    def event_id(self) -> str:
        return event_id_of(self.event)


def event_id_of(event: AnswerEvent) -> str:
    """The id other events name as their cause: the event's own id when it has one, else its position."""
    return str(event.metadata.get("event_id") or event.position)


def _outcome(event_type: str, data: Mapping[str, Any]) -> str:
    match event_type:
        case "StockReserved":
            return f"reserved {data.get('quantity')}"
        case "StockReservationRejected":
            return f"rejected: {data.get('quantity')} asked, {data.get('available')} available"
        case "PaymentAuthorized":
            return "authorized"
        case "PaymentDeclined":
            return f"declined: {data.get('reason', '')}"
        case "OrderConfirmed":
            return "confirmed"
        case "StockReleased":
            return f"released {data.get('quantity')}"
        case "PaymentRefunded":
            return "refunded"
        case _:
            return "cancelled"


def answer_of(event: AnswerEvent) -> Answer | None:
    """The step ``event`` answers, or None for an event that answers none."""
    known = ANSWERS.get(event.event_type)
    order_id = event.data.get("order_id")
    if known is None or not order_id:
        return None
    step, status = known
    target = str(event.data.get("sku", "")) if _STREAM_OF[step] == "stock" else str(order_id)
    return Answer(str(order_id), step, target, status, _outcome(event.event_type, event.data)[:200], event)


def answer_appended(result: CommandResult) -> Answer | None:
    """The answer a command's handler just appended (its last event), built from its result, not read back.

    Appended at its type's current schema version, the event reads back as written.
    """
    if result.last_position is None:
        return None
    if not result.events:
        # A result built without its events (not one of the order handlers'): read it back.
        event = event_read(position=result.last_position)
        return None if event is None else answer_of(event)
    last = result.events[-1]
    return answer_of(_AppendedEvent(result.last_position, result.stream_id, last.event_type, last.data, last.metadata))


def answer_find(*, step: str, target: str, order_id: str) -> Answer | None:
    """The newest answer to ``step`` for this order already in the participant's stream, if any."""
    stream_id = f"{_STREAM_OF[step]}-{target if _STREAM_OF[step] == 'stock' else order_id}"
    before = stream_version(stream_id=stream_id) + 1
    for _ in range(_PAGES):
        if before <= 1:
            return None
        page = stream_page_read(stream_id=stream_id, before_version=before, limit=_PAGE)
        for event in reversed(page):
            answer = answer_of(event)
            if answer is not None and answer.step == step and answer.order_id == order_id and answer.target == target:
                return answer
        if not page:
            return None
        before = page[0].version
    return None
