"""The simulator's end report: the invariants every run must leave true, checked against the truth.

Each check reads what it judges through the owners' public functions: sagas through
:mod:`apps.sagas.selectors`, stock and payments as their events leave them
(:mod:`apps.orders.selectors`), read models through :mod:`apps.projections` (each live
model's digest against the digest of a blue/green rebuild from the store, as an
operator's rebuild would produce it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from apps.orders.domain.order import OrderStatus
from apps.orders.domain.payment import PaymentStatus
from apps.orders.selectors import order_get, payment_get, stock_item_get
from apps.projections.projectors import PROJECTORS
from apps.projections.rebuild import projection_rebuild_request, projection_rebuild_run
from apps.projections.selectors import projection_digest, stock_level_list
from apps.sagas.models import SagaInstance, SagaStatus
from apps.sagas.selectors import saga_list

# A report lists this many violations of one invariant, then counts the rest.
SHOWN = 10
SETTLED = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.STUCK, SagaStatus.FAILED})
# A saga in these states may still hold what it took: an operator decides.
HELD_BY_OPERATOR = frozenset({SagaStatus.STUCK})


@dataclass
class InvariantCheck:
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def violate(self, text: str) -> None:
        self.violations.append(text)

    def lines(self) -> list[str]:
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.name} ({self.checked} checked"
        head += ")" if self.ok else f", {len(self.violations)} violations)"
        shown = [f"      - {text}" for text in self.violations[:SHOWN]]
        if len(self.violations) > SHOWN:
            shown.append(f"      ... and {len(self.violations) - SHOWN} more")
        return [head, *shown]


@dataclass
class SimulationReport:
    checks: list[InvariantCheck]
    saga_counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{status} {count}" for status, count in self.saga_counts.items())
        lines = [f"sagas of this run: {counts}"]
        for check in self.checks:
            lines += check.lines()
        lines.append("REPORT: every invariant holds" if self.ok else "REPORT: an invariant broke")
        return lines


def sagas_by_order(*, order_ids: Iterable[str]) -> dict[str, SagaInstance]:
    """The saga of each order (the newest, should there be more than one)."""
    found: dict[str, SagaInstance] = {}
    for order_id in order_ids:
        sagas = saga_list(order_id=order_id, limit=1)
        if sagas:
            found[order_id] = sagas[0]
    return found


def sagas_check(*, order_ids: Sequence[str], sagas: Mapping[str, SagaInstance]) -> InvariantCheck:
    """Every order's saga completed or compensated, or is stuck for an operator with a reason."""
    check = InvariantCheck("every saga completed, compensated, or stuck with a reason")
    for order_id in order_ids:
        check.checked += 1
        saga = sagas.get(order_id)
        if saga is None:
            check.violate(f"order {order_id}: no saga started")
        elif saga.status == SagaStatus.STUCK and not saga.status_reason.strip():
            check.violate(f"order {order_id}: saga {saga.id} is stuck without a reason")
        elif saga.status not in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.STUCK):
            check.violate(f"order {order_id}: saga {saga.id} is {saga.status} ({saga.current_step or 'no step'})")
    return check


def stock_check(
    *, skus: Sequence[str], saga_of: Callable[[str], SagaInstance | None], levels: Mapping[str, tuple[int, int]]
) -> InvariantCheck:
    """No stock level negative; the read model's reserved equals the open reservations; none leaked.

    ``levels`` is the stock read model (sku -> (on hand, reserved)). A reservation is leaked
    when the saga that took it ended compensated (or failed) without releasing it.
    """
    check = InvariantCheck("stock never negative, reserved equals the open reservations")
    for sku in skus:
        check.checked += 1
        item = stock_item_get(sku=sku)
        on_hand = item.on_hand if item else 0
        reservations = item.reservations if item else {}
        open_reserved = sum(reservations.values())
        if on_hand < 0 or on_hand - open_reserved < 0:
            check.violate(f"{sku}: on hand {on_hand}, reserved {open_reserved} in the store")
        level_on_hand, level_reserved = levels.get(sku, (0, 0))
        if level_on_hand < 0 or level_reserved < 0 or level_on_hand - level_reserved < 0:
            check.violate(f"{sku}: read model shows on hand {level_on_hand}, reserved {level_reserved}")
        if (level_on_hand, level_reserved) != (on_hand, open_reserved):
            check.violate(
                f"{sku}: read model on hand/reserved {level_on_hand}/{level_reserved},"
                f" open reservations in the store {on_hand}/{open_reserved}"
            )
        for order_id, quantity in sorted(reservations.items()):
            saga = saga_of(order_id)
            if saga is not None and saga.status in (SagaStatus.COMPENSATED, SagaStatus.FAILED):
                check.violate(f"{sku}: {quantity} still reserved for {order_id}, whose saga is {saga.status}")
    return check


def payments_check(*, order_ids: Sequence[str], sagas: Mapping[str, SagaInstance]) -> InvariantCheck:
    """Every authorized payment of a cancelled order refunded (unless its saga waits for an operator)."""
    check = InvariantCheck("every authorized payment of a cancelled order refunded")
    for order_id in order_ids:
        order = order_get(order_id=order_id)
        if order is None or order.status is not OrderStatus.CANCELLED:
            continue
        check.checked += 1
        payment = payment_get(order_id=order_id)
        saga = sagas.get(order_id)
        if payment is not None and payment.status is PaymentStatus.AUTHORIZED:
            if saga is not None and saga.status in HELD_BY_OPERATOR:
                continue
            check.violate(f"order {order_id} is cancelled but its payment of {payment.amount_cents} is authorized")
    return check


def read_models_check(*, progress: Callable[[str], None] | None = None) -> InvariantCheck:
    """Every read model equal to a rebuild of it from the store (digest of every row)."""
    check = InvariantCheck("every read model equal to a rebuild from the store")
    for name in sorted(PROJECTORS):
        check.checked += 1
        if progress:
            progress(name)
        live = projection_digest(name=name)
        job = projection_rebuild_request(name=name, actor="simulator", enqueue=False)
        job = projection_rebuild_run(job_id=job.id)
        if job.status != "done":
            check.violate(f"{name}: the rebuild ended {job.status}: {job.error.splitlines()[0] if job.error else ''}")
        elif projection_digest(name=name) != live:
            check.violate(f"{name}: the live read model differs from its rebuild")
    return check


def simulation_report(
    *,
    order_ids: Sequence[str],
    skus: Sequence[str],
    rebuild: bool = True,
    settled: bool = True,
    progress: Callable[[str], None] | None = None,
) -> SimulationReport:
    """Check every invariant over the run's orders and skus (and every read model when ``rebuild``).

    A run that did not settle is not compared with a rebuild: with events still being
    appended the live model and its rebuild differ for that reason alone, which would
    hide whether they differ for another.
    """
    sagas = sagas_by_order(order_ids=order_ids)

    def saga_of(order_id: str) -> SagaInstance | None:
        return sagas[order_id] if order_id in sagas else sagas_by_order(order_ids=[order_id]).get(order_id)

    levels = {row.sku: (row.on_hand, row.reserved) for row in stock_level_list().filter(sku__in=list(skus))}
    checks = [
        sagas_check(order_ids=order_ids, sagas=sagas),
        stock_check(skus=skus, saga_of=saga_of, levels=levels),
        payments_check(order_ids=order_ids, sagas=sagas),
    ]
    if rebuild and settled:
        checks.append(read_models_check(progress=progress))
    elif rebuild:
        unsettled = InvariantCheck("every read model equal to a rebuild from the store")
        unsettled.violate("not compared: the run did not settle (sagas still moving or projections behind)")
        checks.append(unsettled)
    counts = {status.value: 0 for status in SagaStatus}
    for saga in sagas.values():
        counts[saga.status] += 1
    counts["none"] = len(order_ids) - len(sagas)
    return SimulationReport(checks=checks, saga_counts=counts)
