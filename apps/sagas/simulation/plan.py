"""What a simulation sends, decided by its seed alone: the same seed gives the same commands.

Failures come from data where the domain has an honest answer (an amount above the
gateway's limit is declined, a quantity beyond any stock is rejected) and from failure
rules for the rest (see faults.py). Every order is placed by one of a stable set of
customers for a stable set of skus, so the console's pages fill with familiar names.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from apps.orders.domain import commands as cmds

CUSTOMER_COUNT = 24
SKU_COUNT = 12
# Enough for a minute at 20 orders/s with the restocks below: shortages come from the plan.
INITIAL_STOCK = 300
RESTOCK_EVERY = 10
RESTOCK_QUANTITY = 60
# A shortage order asks for more than every restock of a long run together.
SHORTAGE_QUANTITY = 1_000_000
# A run until stopped sends an undecodable record every this many orders (if any at all).
ENDLESS_POISON_EVERY = 500


@dataclass(frozen=True)
class SimulationConfig:
    """A run's knobs. Rates are shares in [0, 1]; ``duration`` 0 runs until stopped."""

    rate: float = 20.0
    duration: float = 60.0
    seed: int = 42
    decline_rate: float = 0.05
    shortage_rate: float = 0.05
    no_reply_rate: float = 0.02
    delay_rate: float = 0.05
    delay_ms: int = 300
    projection_failure_rate: float = 0.01
    duplicate_rate: float = 0.02
    undecodable: int = 2
    cancel_rate: float = 0.03
    # Order ids start with this, so two runs on one deployment never collide.
    run_label: str = "run"
    gateway_limit_cents: int = 1_000_000

    def order_count(self) -> int | None:
        """How many orders the run places, or None for a run until stopped."""
        return round(self.rate * self.duration) if self.duration > 0 else None


@dataclass(frozen=True)
class Cancellation:
    """The order's customer cancels it, as any customer would, while its saga may still be running.

    The saga sees the order cancelled from outside and undoes what it did (refund, release).
    """

    order_id: str
    customer_id: str
    reason: str


@dataclass(frozen=True)
class Poison:
    """An undecodable record put on the topic."""

    raw: bytes


@dataclass(frozen=True)
class PlannedCommand:
    """One thing to send ``at`` seconds after the run started."""

    at: float
    command: cmds.PlaceOrder | cmds.AddStock | Cancellation | Poison
    # Copy the events this command appends onto the topic a second time.
    duplicate: bool = False
    # What the order is meant to meet: "ok", "decline" or "shortage" (for the report's counts).
    intent: str = "ok"


def sku_name(index: int) -> str:
    return f"sim-sku-{index:02d}"


def customer_name(index: int) -> str:
    return f"sim-customer-{index:02d}"


def _order(config: SimulationConfig, rng: random.Random, number: int) -> tuple[cmds.PlaceOrder, str]:
    order_id = f"sim-{config.run_label}-{number:06d}"
    customer = customer_name(rng.randrange(CUSTOMER_COUNT))
    roll = rng.random()
    skus = rng.sample(range(SKU_COUNT), k=rng.randint(1, 3))
    if roll < config.decline_rate:
        # One line priced just above the limit: the gateway declines it, nothing else does.
        price = config.gateway_limit_cents + rng.randint(1, 50_000)
        lines: tuple[cmds.OrderLine, ...] = (cmds.OrderLine(sku_name(skus[0]), 1, price),)
        return cmds.PlaceOrder(order_id, customer, "EUR", lines), "decline"
    if roll < config.decline_rate + config.shortage_rate:
        short = cmds.OrderLine(sku_name(skus[0]), SHORTAGE_QUANTITY, rng.randint(100, 2_000))
        others = tuple(cmds.OrderLine(sku_name(s), rng.randint(1, 3), rng.randint(100, 20_000)) for s in skus[1:])
        return cmds.PlaceOrder(order_id, customer, "EUR", (*others, short)), "shortage"
    lines = tuple(cmds.OrderLine(sku_name(s), rng.randint(1, 3), rng.randint(100, 20_000)) for s in skus)
    return cmds.PlaceOrder(order_id, customer, "EUR", lines), "ok"


def simulation_plan(config: SimulationConfig) -> Iterator[PlannedCommand]:
    """Every command of the run, in time order; endless when ``config.duration`` is 0."""
    rng = random.Random(config.seed)
    for index in range(SKU_COUNT):
        yield PlannedCommand(at=0.0, command=cmds.AddStock(sku_name(index), INITIAL_STOCK))
    total = config.order_count()
    poison_every = 0
    if config.undecodable:
        poison_every = max(total // (config.undecodable + 1), 1) if total else ENDLESS_POISON_EVERY
    poisoned = 0
    number = 0
    while total is None or number < total:
        at = number / config.rate
        order, intent = _order(config, rng, number)
        yield PlannedCommand(at=at, command=order, duplicate=rng.random() < config.duplicate_rate, intent=intent)
        if rng.random() < config.cancel_rate:
            # Right away: the runner sends it as soon as the saga exists, while it is likely still running.
            cancellation = Cancellation(order.order_id, order.customer_id, "customer asked to cancel")
            yield PlannedCommand(at=at, command=cancellation)
        if number % RESTOCK_EVERY == RESTOCK_EVERY - 1:
            restock = cmds.AddStock(sku_name(rng.randrange(SKU_COUNT)), RESTOCK_QUANTITY)
            yield PlannedCommand(at=at, command=restock)
        limited = total is not None and poisoned >= config.undecodable
        if poison_every and not limited and number % poison_every == poison_every - 1:
            poisoned += 1
            yield PlannedCommand(at=at, command=Poison(f"simulator: undecodable #{poisoned}".encode()))
        number += 1
