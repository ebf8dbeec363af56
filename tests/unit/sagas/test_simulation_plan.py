"""The simulator's plan: the seed decides every command, and the failure rates show in the data."""

from __future__ import annotations

import itertools

from apps.orders.domain import commands as cmds
from apps.sagas.simulation.plan import (
    INITIAL_STOCK,
    SHORTAGE_QUANTITY,
    SKU_COUNT,
    Cancellation,
    Poison,
    SimulationConfig,
    simulation_plan,
)

CONFIG = SimulationConfig(rate=20, duration=60, seed=42, run_label="t")


def test_the_same_seed_gives_the_same_commands_and_another_seed_others() -> None:
    assert list(simulation_plan(CONFIG)) == list(simulation_plan(CONFIG))
    other = SimulationConfig(rate=20, duration=60, seed=43, run_label="t")
    assert list(simulation_plan(CONFIG)) != list(simulation_plan(other))


def test_a_run_places_rate_times_duration_orders_in_time_order_after_stocking_every_sku() -> None:
    plan = list(simulation_plan(CONFIG))
    stocked = plan[:SKU_COUNT]
    orders = [p for p in plan if isinstance(p.command, cmds.PlaceOrder)]

    assert all(isinstance(p.command, cmds.AddStock) and p.command.quantity == INITIAL_STOCK for p in stocked)
    assert len(orders) == 1200
    assert [p.at for p in plan] == sorted(p.at for p in plan)
    assert plan[-1].at <= 60


def test_declines_and_shortages_are_in_the_data_at_about_their_rates() -> None:
    plan = list(simulation_plan(CONFIG))
    orders = [p for p in plan if isinstance(p.command, cmds.PlaceOrder)]
    declines = [p for p in orders if p.intent == "decline"]
    shortages = [p for p in orders if p.intent == "shortage"]

    def total(order: cmds.PlaceOrder) -> int:
        return sum(line.quantity * line.unit_price_cents for line in order.lines)

    assert 30 <= len(declines) <= 90 and 30 <= len(shortages) <= 90
    assert all(isinstance(p.command, cmds.PlaceOrder) and total(p.command) > 1_000_000 for p in declines)
    assert all(
        isinstance(p.command, cmds.PlaceOrder) and p.command.lines[-1].quantity == SHORTAGE_QUANTITY for p in shortages
    )
    ordinary = [p.command for p in orders if p.intent == "ok" and isinstance(p.command, cmds.PlaceOrder)]
    assert all(total(order) <= 1_000_000 for order in ordinary)
    # Every line of an order is another sku: a saga's steps are per sku.
    assert all(len({line.sku for line in order.lines}) == len(order.lines) for order in ordinary)


def test_cancels_duplicates_and_undecodable_records_are_planned_and_none_without_failures() -> None:
    plan = list(simulation_plan(CONFIG))
    placed = {p.command.order_id for p in plan if isinstance(p.command, cmds.PlaceOrder)}
    cancels = [p.command for p in plan if isinstance(p.command, Cancellation)]

    assert cancels and all(c.order_id in placed for c in cancels)
    assert any(p.duplicate for p in plan)
    assert sum(isinstance(p.command, Poison) for p in plan) == CONFIG.undecodable

    quiet = SimulationConfig(
        rate=20, duration=10, decline_rate=0, shortage_rate=0, duplicate_rate=0, undecodable=0, cancel_rate=0
    )
    quiet_plan = list(simulation_plan(quiet))
    assert {p.intent for p in quiet_plan} == {"ok"}
    assert not any(p.duplicate or isinstance(p.command, Cancellation | Poison) for p in quiet_plan)


def test_a_run_without_a_duration_goes_on() -> None:
    endless = simulation_plan(SimulationConfig(rate=2, duration=0))
    assert len(list(itertools.islice(endless, 5000))) == 5000
