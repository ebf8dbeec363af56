"""The order saga's plan: from what its attempts answered, what it sends next and what it becomes.

Plain Python over a snapshot (:class:`SagaView`), so the engine and the operator
previews make the same decision from the same state. The engine creates a new attempt
after a timeout or an error itself (while attempts remain); here a step whose last
attempt timed out or errored has used them all.

Forward: reserve_stock for every line (sent together) -> authorize_payment ->
confirm_order. Compensation, in reverse: refund_payment (if authorized) ->
release_stock (every sku that may be reserved) -> cancel_order. An action still awaiting
its answer is waited for before compensating, so a reservation never lands after its
release; one that lands late all the same is released again (see ``_redo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RUNNING, COMPLETED, COMPENSATING, COMPENSATED, STUCK = "running", "completed", "compensating", "compensated", "stuck"
ACTION, COMPENSATION = "action", "compensation"
PENDING, SUCCEEDED, REJECTED, ERRORED, TIMED_OUT, CANCELLED = (
    "pending",
    "succeeded",
    "rejected",
    "errored",
    "timed_out",
    "cancelled",
)

SEQUENCE = {
    "reserve_stock": 1,
    "authorize_payment": 2,
    "confirm_order": 3,
    "refund_payment": 4,
    "release_stock": 5,
    "cancel_order": 6,
}
COMPENSATES = {"release_stock": "reserve_stock", "refund_payment": "authorize_payment", "cancel_order": ""}
KIND = {name: (COMPENSATION if name in COMPENSATES else ACTION) for name in SEQUENCE}


@dataclass(frozen=True)
class AttemptView:
    name: str
    target: str
    attempt: int
    max_attempts: int
    status: str
    outcome: str = ""
    error: str = ""
    answer_position: int | None = None


@dataclass(frozen=True)
class SagaView:
    order_id: str
    status: str
    status_reason: str
    context: Mapping[str, Any]
    attempts: tuple[AttemptView, ...]


@dataclass(frozen=True)
class StepToSend:
    name: str
    target: str
    command: dict[str, Any]

    @property
    def kind(self) -> str:
        return KIND[self.name]

    @property
    def sequence(self) -> int:
        return SEQUENCE[self.name]

    @property
    def compensates(self) -> str:
        return COMPENSATES.get(self.name, "")


@dataclass(frozen=True)
class Decision:
    status: str
    status_reason: str
    current_step: str
    send: tuple[StepToSend, ...] = field(default_factory=tuple)


def latest_attempts(attempts: tuple[AttemptView, ...]) -> dict[tuple[str, str], AttemptView]:
    """The newest attempt of each (step, target)."""
    latest: dict[tuple[str, str], AttemptView] = {}
    for attempt in attempts:
        key = (attempt.name, attempt.target)
        if key not in latest or attempt.attempt > latest[key].attempt:
            latest[key] = attempt
    return latest


def step_command(
    name: str, target: str, *, order_id: str, context: Mapping[str, Any], reason: str = ""
) -> dict[str, Any]:
    """The command a step sends: {"type", "participant", "fields"}."""
    if name in ("reserve_stock", "release_stock"):
        fields: dict[str, Any] = {"sku": target, "order_id": order_id}
        if name == "reserve_stock":
            fields["quantity"] = sum(int(line["quantity"]) for line in context["lines"] if line["sku"] == target)
        return {
            "type": "ReserveStock" if name == "reserve_stock" else "ReleaseStock",
            "participant": "inventory",
            "fields": fields,
        }
    if name == "authorize_payment":
        fields = {"order_id": order_id, "amount_cents": int(context["total_cents"]), "currency": context["currency"]}
        return {"type": "AuthorizePayment", "participant": "payment", "fields": fields}
    if name == "refund_payment":
        return {"type": "RefundPayment", "participant": "payment", "fields": {"order_id": order_id}}
    if name == "confirm_order":
        return {"type": "ConfirmOrder", "participant": "order", "fields": {"order_id": order_id}}
    if name == "cancel_order":
        return {"type": "CancelOrder", "participant": "order", "fields": {"order_id": order_id, "reason": reason}}
    raise ValueError(f"no step named {name!r}")


def saga_skus(context: Mapping[str, Any]) -> list[str]:
    """The skus to reserve, once each, in the order of the lines."""
    return list(dict.fromkeys(str(line["sku"]) for line in context["lines"]))


def _failure(attempt: AttemptView) -> str:
    """Why a step's last attempt ended the step, in words."""
    target = f" for {attempt.target}" if attempt.name in ("reserve_stock", "release_stock") else ""
    if attempt.status == REJECTED:
        return f"{attempt.name} failed{target}: {attempt.outcome}"
    if attempt.status == TIMED_OUT:
        return f"{attempt.name} failed{target}: no reply after {attempt.attempt} attempts"
    if attempt.status == CANCELLED:
        return f"{attempt.name} failed{target}: {attempt.outcome or 'cancelled'}"
    return f"{attempt.name} failed{target}: errored {attempt.attempt} times ({attempt.error or attempt.outcome})"


def saga_next(view: SagaView) -> Decision:
    """What the saga does next, given its attempts so far."""
    if view.status in (RUNNING, STUCK) and not _compensation_started(view):
        return _forward(view)
    return _compensate(view)


def _compensation_started(view: SagaView) -> bool:
    return view.status == COMPENSATING or any(KIND[a.name] == COMPENSATION for a in view.attempts)


def _send(view: SagaView, name: str, targets: list[str], *, status: str, reason: str) -> Decision:
    steps = tuple(
        StepToSend(
            name, target, step_command(name, target, order_id=view.order_id, context=view.context, reason=reason)
        )
        for target in targets
    )
    return Decision(status=status, status_reason=reason, current_step=name, send=steps)


def _forward(view: SagaView) -> Decision:
    latest = latest_attempts(view.attempts)
    order_id = view.order_id
    reserves = {sku: latest.get(("reserve_stock", sku)) for sku in saga_skus(view.context)}
    for attempt in reserves.values():
        if attempt is not None and attempt.status not in (PENDING, SUCCEEDED):
            return _compensate(_switched(view, _failure(attempt)))
    unsent = [sku for sku, attempt in reserves.items() if attempt is None]
    if unsent:
        return _send(view, "reserve_stock", unsent, status=RUNNING, reason="")
    if any(attempt is not None and attempt.status == PENDING for attempt in reserves.values()):
        return Decision(status=RUNNING, status_reason="", current_step="reserve_stock")
    payment = latest.get(("authorize_payment", order_id))
    if payment is None:
        return _send(view, "authorize_payment", [order_id], status=RUNNING, reason="")
    if payment.status == PENDING:
        return Decision(status=RUNNING, status_reason="", current_step="authorize_payment")
    if payment.status == TIMED_OUT:
        # No answer at all: the gateway may have taken the money. Refunding is not possible
        # without an authorization and cancelling would strand it: an operator decides.
        reason = f"payment outcome unknown after {payment.attempt} attempts"
        return Decision(status=STUCK, status_reason=reason, current_step="authorize_payment")
    if payment.status != SUCCEEDED:
        return _compensate(_switched(view, _failure(payment)))
    confirm = latest.get(("confirm_order", order_id))
    if confirm is None:
        return _send(view, "confirm_order", [order_id], status=RUNNING, reason="")
    if confirm.status == PENDING:
        return Decision(status=RUNNING, status_reason="", current_step="confirm_order")
    if confirm.status == SUCCEEDED:
        return Decision(status=COMPLETED, status_reason="", current_step="")
    return _compensate(_switched(view, _failure(confirm)))


def _switched(view: SagaView, reason: str) -> SagaView:
    return SagaView(view.order_id, COMPENSATING, reason, view.context, view.attempts)


def _redo(compensation: AttemptView | None, action: AttemptView | None) -> bool:
    """Whether a compensation must be sent (again): never sent, or done before its action's late success."""
    if compensation is None:
        return True
    if compensation.status != SUCCEEDED or action is None or action.status != SUCCEEDED:
        return False
    return (action.answer_position or 0) > (compensation.answer_position or 0)


def _compensate(view: SagaView) -> Decision:
    latest = latest_attempts(view.attempts)
    order_id, reason = view.order_id, view.status_reason
    waiting = [a for a in latest.values() if KIND[a.name] == ACTION and a.status == PENDING]
    if waiting:
        return Decision(status=COMPENSATING, status_reason=reason, current_step=waiting[0].name)
    payment = latest.get(("authorize_payment", order_id))
    refund = latest.get(("refund_payment", order_id))
    if payment is not None and payment.status == SUCCEEDED:
        if _redo(refund, payment):
            return _send(view, "refund_payment", [order_id], status=COMPENSATING, reason=reason)
        assert refund is not None
        if refund.status == PENDING:
            return Decision(status=COMPENSATING, status_reason=reason, current_step="refund_payment")
        if refund.status != SUCCEEDED:
            return _stuck(refund, reason)
    # Every sku a reservation was asked for and not refused may hold stock; releasing one
    # that holds none is a no-op.
    held = [
        sku
        for sku in saga_skus(view.context)
        if (reserve := latest.get(("reserve_stock", sku))) is not None and reserve.status != REJECTED
    ]
    releases = {sku: latest.get(("release_stock", sku)) for sku in held}
    unsent = [sku for sku in held if _redo(releases[sku], latest.get(("reserve_stock", sku)))]
    if unsent:
        return _send(view, "release_stock", unsent, status=COMPENSATING, reason=reason)
    for release in releases.values():
        assert release is not None
        if release.status == PENDING:
            return Decision(status=COMPENSATING, status_reason=reason, current_step="release_stock")
        if release.status != SUCCEEDED:
            return _stuck(release, reason)
    cancel = latest.get(("cancel_order", order_id))
    if cancel is None:
        return _send(view, "cancel_order", [order_id], status=COMPENSATING, reason=reason)
    if cancel.status == PENDING:
        return Decision(status=COMPENSATING, status_reason=reason, current_step="cancel_order")
    if cancel.status != SUCCEEDED:
        return _stuck(cancel, reason)
    # Once compensated, the step the saga failed at is its step (what an operator filters on).
    return Decision(status=COMPENSATED, status_reason=reason, current_step=_failed_action(latest))


def _failed_action(latest: Mapping[tuple[str, str], AttemptView]) -> str:
    failed = [a for a in latest.values() if KIND[a.name] == ACTION and a.status not in (PENDING, SUCCEEDED)]
    return min(failed, key=lambda a: SEQUENCE[a.name]).name if failed else ""


def _stuck(attempt: AttemptView, reason: str) -> Decision:
    # A compensation that cannot get through is not retried forever: an operator looks.
    words = f"{_failure(attempt)} while compensating ({reason})" if reason else _failure(attempt)
    return Decision(status=STUCK, status_reason=words, current_step=attempt.name)
