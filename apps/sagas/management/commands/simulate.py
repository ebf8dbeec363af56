"""``manage.py simulate``: order traffic with failures, a progress bar, and a report of the invariants.

Exits non-zero when an invariant broke.
"""

from __future__ import annotations

import signal
import threading
import uuid
from typing import IO, Any, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from apps.sagas.simulation.plan import SimulationConfig
from apps.sagas.simulation.report import simulation_report
from apps.sagas.simulation.runner import SettleState, SimulationCounts, simulation_run, simulation_settle


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a share must be between 0 and 1, got {value}")
    return value


class Command(BaseCommand):
    help = "Place orders with failures switched on, wait for their sagas to settle, and check every invariant."

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = SimulationConfig()
        parser.add_argument("--rate", type=float, default=defaults.rate, help="orders per second")
        parser.add_argument("--duration", type=float, default=defaults.duration, help="seconds; 0 runs until stopped")
        parser.add_argument("--seed", type=int, default=defaults.seed, help="same seed, same commands")
        parser.add_argument("--decline-rate", type=_share, default=defaults.decline_rate)
        parser.add_argument("--shortage-rate", type=_share, default=defaults.shortage_rate)
        parser.add_argument("--no-reply-rate", type=_share, default=defaults.no_reply_rate)
        parser.add_argument("--delay-rate", type=_share, default=defaults.delay_rate)
        parser.add_argument("--delay-ms", type=int, default=defaults.delay_ms, help="participant delay")
        parser.add_argument("--projection-failure-rate", type=_share, default=defaults.projection_failure_rate)
        parser.add_argument("--duplicate-rate", type=_share, default=defaults.duplicate_rate)
        parser.add_argument("--undecodable", type=int, default=defaults.undecodable, help="undecodable records")
        parser.add_argument("--cancel-rate", type=_share, default=defaults.cancel_rate)
        parser.add_argument("--no-failures", action="store_true", help="every failure rate and count 0")
        parser.add_argument("--run-label", default="", help="order ids start sim-<label>- (default: random)")
        parser.add_argument("--settle-timeout", type=float, default=300.0, help="seconds to wait for sagas")
        parser.add_argument("--no-report", action="store_true", help="stop after the traffic (the demo)")
        parser.add_argument("--no-rebuild", action="store_true", help="skip comparing read models with a rebuild")

    def handle(self, *args: Any, **options: Any) -> None:
        failures = 0.0 if options["no_failures"] else 1.0
        config = SimulationConfig(
            rate=options["rate"],
            duration=options["duration"],
            seed=options["seed"],
            decline_rate=options["decline_rate"] * failures,
            shortage_rate=options["shortage_rate"] * failures,
            no_reply_rate=options["no_reply_rate"] * failures,
            delay_rate=options["delay_rate"] * failures,
            delay_ms=options["delay_ms"],
            projection_failure_rate=options["projection_failure_rate"] * failures,
            duplicate_rate=options["duplicate_rate"] * failures,
            undecodable=int(options["undecodable"] * failures),
            cancel_rate=options["cancel_rate"] * failures,
            run_label=options["run_label"] or uuid.uuid4().hex[:8],
            gateway_limit_cents=settings.PAYMENT_GATEWAY_LIMIT_CENTS,
        )
        if config.rate <= 0:
            raise CommandError("--rate must be > 0")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        console = Console(file=cast(IO[str], self.stdout._out), force_terminal=self.stdout.isatty())
        console.print(f"Simulating {config.rate:g} orders/s for {config.duration:g} s, seed {config.seed}: {config}")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
        ) as progress:
            task = progress.add_task("traffic", total=config.order_count(), counts="")

            def traffic(counts: SimulationCounts) -> None:
                progress.update(task, completed=counts.orders, counts=counts.summary())

            run = simulation_run(config, on_progress=traffic, stop=stop)
        console.print(f"Traffic done: {run.counts.summary()}")
        if run.counts.last_error:
            console.print(f"Last error: {run.counts.last_error}")
        if options["no_report"]:
            return
        with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("settling")

            def settling(state: SettleState) -> None:
                progress.update(
                    task,
                    description=f"settling: {state.unsettled_sagas} sagas still moving,"
                    f" projection lag {state.projection_lag}, {state.parked} parked,"
                    f" {state.replayed} dead letters replayed",
                )

            state = simulation_settle(run, timeout=options["settle_timeout"], on_progress=settling)
        console.print(
            f"{'Settled' if state.settled else 'NOT settled in time'}: {state.unsettled_sagas} sagas still moving,"
            f" projection lag {state.projection_lag}, {state.parked} injected dead letters parked,"
            f" {state.replayed} replayed"
        )
        with console.status("checking invariants (rebuilding every read model to compare)") as status:
            report = simulation_report(
                order_ids=run.order_ids,
                skus=run.skus,
                rebuild=not options["no_rebuild"],
                settled=state.settled,
                progress=lambda name: status.update(f"rebuilding {name} to compare"),
            )
        for line in report.lines():
            console.print(line, markup=False, highlight=False)
        if not report.ok:
            raise CommandError("an invariant broke (see the report above)")
