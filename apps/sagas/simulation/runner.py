"""Running a simulation: send the plan's commands at its rate, then wait for the sagas to settle.

The simulator is a client like any other: orders, restocks and customers' cancellations
go through the order domain's handlers, so the sagas it starts (and the cancellations
they undo) are carried by the worker's orchestrator exactly as an API client's would be.
It acts as an operator only where an operator would: the failure rules, the undecodable
records and replaying what the rules parked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import User

from apps.messaging.dead_letters import FailureRule
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.domain.errors import DomainError
from apps.orders.handlers import CommandContext, CommandResult
from apps.projections.selectors import projection_status_list
from apps.sagas.selectors import saga_list
from apps.sagas.simulation import faults
from apps.sagas.simulation.plan import Cancellation, PlannedCommand, Poison, SimulationConfig, simulation_plan
from apps.sagas.simulation.report import SETTLED

# How often the caller's progress callback hears from a run at most.
PROGRESS_EVERY_SECONDS = 0.25
SETTLE_POLL_SECONDS = 1.0
# A cancellation waits this long for its order's saga to start, then is dropped unsent: an
# order cancelled before its saga starts is settled without one, which the report counts
# as a saga that never started. Long enough for the orchestrator's consumer group to form
# when a run starts with the stack (the first sagas started ~6 s after their orders).
CANCEL_WAIT_SECONDS = 30.0
# Consecutive settled looks before a run counts as settled; a consumer retries a failing
# event for up to a few seconds (CONSUMER_RETRY_*), so one look is not enough.
SETTLED_ROUNDS = 3


@dataclass
class SimulationCounts:
    """What the run produced so far, for the progress bar and the report."""

    planned: int | None = None
    orders: int = 0
    meant_to_decline: int = 0
    meant_to_run_short: int = 0
    restocks: int = 0
    # Cancellations the order accepted; of those, how many found it cancelled already (by its saga).
    cancels_sent: int = 0
    cancels_already_cancelled: int = 0
    # Cancellations the order refused, and the order's reasons (reason -> how many).
    cancels_too_late: int = 0
    cancel_refusals: dict[str, int] = field(default_factory=dict)
    # Cancellations dropped unsent: their order's saga had not started after CANCEL_WAIT_SECONDS.
    cancels_unsent: int = 0
    duplicates: int = 0
    undecodable: int = 0
    errors: int = 0
    last_error: str = ""

    def summary(self) -> str:
        return (
            f"orders {self.orders} (decline {self.meant_to_decline}, shortage {self.meant_to_run_short}),"
            f" restocks {self.restocks}, {self._cancels()},"
            f" duplicates {self.duplicates}, undecodable {self.undecodable}, errors {self.errors}"
        )

    def _cancels(self) -> str:
        text = f"cancels {self.cancels_sent} ({self.cancels_already_cancelled} already cancelled)"
        if self.cancels_too_late:
            reasons = "; ".join(f"{reason}: {count}" for reason, count in sorted(self.cancel_refusals.items()))
            text += f" +{self.cancels_too_late} too late ({reasons})"
        if self.cancels_unsent:
            text += f" +{self.cancels_unsent} unsent (no saga after {CANCEL_WAIT_SECONDS:g} s)"
        return text


@dataclass
class SimulationRun:
    config: SimulationConfig
    counts: SimulationCounts
    order_ids: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    rules: list[FailureRule] = field(default_factory=list)


class _Sender:
    def __init__(self, run: SimulationRun, *, actor: User) -> None:
        self.run, self.actor, self.counts = run, actor, run.counts
        # Cancellations whose saga has not started yet, with the moment to give up on them.
        self.cancels_waiting: list[tuple[Cancellation, float]] = []

    def send(self, planned: PlannedCommand) -> None:
        command = planned.command
        result: CommandResult | None = None
        if isinstance(command, cmds.PlaceOrder):
            result = handlers.place_order(command, CommandContext(actor=faults.SIMULATOR))
            self.run.order_ids.append(command.order_id)
            self.counts.orders += 1
            self.counts.meant_to_decline += planned.intent == "decline"
            self.counts.meant_to_run_short += planned.intent == "shortage"
        elif isinstance(command, cmds.AddStock):
            result = handlers.add_stock(command, CommandContext(actor=faults.SIMULATOR))
            if command.sku not in self.run.skus:
                self.run.skus.append(command.sku)
            self.counts.restocks += 1
        elif isinstance(command, Cancellation):
            self.cancels_waiting.append((command, time.monotonic() + CANCEL_WAIT_SECONDS))
        elif isinstance(command, Poison):
            faults.simulation_poison(raw=command.raw, actor=self.actor)
            self.counts.undecodable += 1
        if planned.duplicate and result is not None and result.first_position is not None:
            assert result.last_position is not None
            self.counts.duplicates += faults.simulation_duplicate(
                first_position=result.first_position, last_position=result.last_position
            )

    def cancels_send(self) -> None:
        """Send each waiting cancellation whose saga has started; give up on those waiting too long."""
        waiting, self.cancels_waiting = self.cancels_waiting, []
        for cancellation, give_up_at in waiting:
            sagas = saga_list(order_id=cancellation.order_id, limit=1)
            if not sagas:
                if time.monotonic() < give_up_at:
                    self.cancels_waiting.append((cancellation, give_up_at))
                else:
                    self.counts.cancels_unsent += 1
                continue
            # One failing cancellation must not drop the others waiting behind it.
            _counted(self.counts, self.cancel_send, cancellation, sagas[0].correlation_id)

    def cancel_send(self, cancellation: Cancellation, correlation_id: str) -> None:
        """Cancel as the order's customer; its saga undoes what it did (or is undoing it already)."""
        command = cmds.CancelOrder(cancellation.order_id, cancellation.reason)
        # The conversation of the order, as a client that kept its correlation id would send it.
        ctx = CommandContext(actor=customer_actor(cancellation.customer_id), correlation_id=correlation_id)
        try:
            result = handlers.cancel_order(command, ctx)
        except DomainError as exc:
            # Only a shipped order refuses (the simulator ships none); counted with the order's words.
            self.counts.cancels_too_late += 1
            reason = str(exc)[:200]
            self.counts.cancel_refusals[reason] = self.counts.cancel_refusals.get(reason, 0) + 1
            return
        self.counts.cancels_sent += 1
        # Nothing appended: the order was cancelled already, by its saga's own compensation.
        self.counts.cancels_already_cancelled += not result.event_types


def customer_actor(customer_id: str) -> str:
    """The actor a customer's own commands carry (as the API's would carry its user)."""
    return f"customer:{customer_id}"


def _counted(counts: SimulationCounts, send: Callable[..., None], *args: object) -> None:
    try:
        send(*args)
    except Exception as exc:  # a client counts its failures and goes on
        counts.errors += 1
        counts.last_error = f"{type(exc).__name__}: {exc}"[:300]


def simulation_run(
    config: SimulationConfig,
    *,
    on_progress: Callable[[SimulationCounts], None] | None = None,
    stop: threading.Event | None = None,
) -> SimulationRun:
    """Send the plan of ``config`` at its rate until its end (or ``stop``), under the run's failure rules.

    The rules are switched off when the traffic ends, whatever ended it. A command that
    raises is counted (``errors``) and the run goes on: a client does not stop at one error.
    """
    stop = stop or threading.Event()
    actor = faults.simulator_user()
    run = SimulationRun(config=config, counts=SimulationCounts(planned=config.order_count()))
    sender = _Sender(run, actor=actor)
    started = time.monotonic()
    reported = 0.0
    run.rules = faults.simulation_rules_on(config, actor=actor)
    try:
        for planned in simulation_plan(config):
            wait = started + planned.at - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            if stop.is_set():
                break
            _counted(run.counts, sender.send, planned)
            if sender.cancels_waiting:
                _counted(run.counts, sender.cancels_send)
            if on_progress and time.monotonic() - reported >= PROGRESS_EVERY_SECONDS:
                reported = time.monotonic()
                on_progress(run.counts)
        while sender.cancels_waiting and not stop.is_set():
            _counted(run.counts, sender.cancels_send)
            stop.wait(0.5)
        # Stopped with cancellations still waiting for their saga: counted, not lost.
        run.counts.cancels_unsent += len(sender.cancels_waiting)
    finally:
        faults.simulation_rules_off(run.rules, actor=actor)
    if on_progress:
        on_progress(run.counts)
    return run


@dataclass(frozen=True)
class SettleState:
    unsettled_sagas: int
    projection_lag: int
    parked: int
    replayed: int

    @property
    def settled(self) -> bool:
        return self.unsettled_sagas == 0 and self.projection_lag == 0 and self.parked == 0


def simulation_settle(
    run: SimulationRun, *, timeout: float, on_progress: Callable[[SettleState], None] | None = None
) -> SettleState:
    """Wait (at most ``timeout`` s) until every saga of the run stopped moving and every projection caught up.

    Meanwhile it replays what the run's projection rules parked, as an operator would
    once the fault is gone. Returns the state it ended in (settled when both are 0).
    """
    actor = faults.simulator_user()
    deadline = time.monotonic() + timeout
    replayed = 0
    settled_rounds = 0
    while True:
        replayed += faults.simulation_dead_letters_replay(actor=actor)
        unsettled = sum(
            1
            for order_id in run.order_ids
            if not (sagas := saga_list(order_id=order_id, limit=1)) or sagas[0].status not in SETTLED
        )
        lag = sum(status.lag_positions for status in projection_status_list())
        parked = faults.simulation_dead_letters_parked()
        state = SettleState(unsettled_sagas=unsettled, projection_lag=lag, parked=parked, replayed=replayed)
        if on_progress:
            on_progress(state)
        # Twice in a row: a worker may still be retrying an event it took before the rules went off.
        settled_rounds = settled_rounds + 1 if state.settled else 0
        if settled_rounds >= SETTLED_ROUNDS or time.monotonic() > deadline:
            return state
        time.sleep(SETTLE_POLL_SECONDS)
