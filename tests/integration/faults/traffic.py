"""Order and stock traffic through the command handlers, from a few threads, as the console's users make it.

Each thread keeps several orders in progress and advances a random one at a time, so
streams interleave in the global log: an order is placed, its first line's stock
reserved, sometimes a line added, then cancelled (and the stock released) or confirmed
(and sometimes shipped). The stock streams are shared by all threads, so appends to them
race and the handlers' optimistic-concurrency retries are part of the run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator

from django.db import connection

from apps.eventstore.errors import WrongExpectedVersion
from apps.orders import handlers
from apps.orders.domain import commands as cmds

Command = Callable[[], object]

SKUS = [f"SKU-{index:02d}" for index in range(12)]
CUSTOMERS = [f"customer-{index:03d}" for index in range(40)]
_IN_PROGRESS = 8
# On top of the handler's own retries: the stock streams are hot when three threads reserve.
_CONFLICT_RETRIES = 20


def stock_stock_up(*, quantity: int = 1_000_000) -> None:
    """Put plenty of every sku on hand, so reservations are never rejected for lack of stock."""
    context = handlers.CommandContext(actor="faults-traffic")
    for sku in SKUS:
        handlers.add_stock(cmds.AddStock(sku=sku, quantity=quantity), context)


def _order_commands(rng: random.Random, order_id: str, context: handlers.CommandContext) -> Iterator[Command]:
    lines = tuple(
        cmds.OrderLine(sku=rng.choice(SKUS), quantity=rng.randint(1, 3), unit_price_cents=rng.randint(100, 9_999))
        for _ in range(rng.randint(1, 3))
    )
    first = lines[0]
    place = cmds.PlaceOrder(order_id=order_id, customer_id=rng.choice(CUSTOMERS), currency="EUR", lines=lines)
    yield lambda: handlers.place_order(place, context)
    reserve = cmds.ReserveStock(sku=first.sku, order_id=order_id, quantity=first.quantity)
    yield lambda: handlers.reserve_stock(reserve, context)
    if rng.random() < 0.3:
        line = cmds.OrderLine(sku=rng.choice(SKUS), quantity=2, unit_price_cents=rng.randint(1, 999))
        yield lambda: handlers.add_order_line(cmds.AddOrderLine(order_id=order_id, line=line), context)
    roll = rng.random()
    if roll < 0.2:
        yield lambda: handlers.cancel_order(cmds.CancelOrder(order_id=order_id, reason="changed mind"), context)
        yield lambda: handlers.release_stock(cmds.ReleaseStock(sku=first.sku, order_id=order_id), context)
        return
    yield lambda: handlers.confirm_order(cmds.ConfirmOrder(order_id=order_id), context)
    if roll > 0.65:
        yield lambda: handlers.ship_order(cmds.ShipOrder(order_id=order_id), context)


class OrderTraffic:
    """``orders`` orders spread over ``threads`` threads; deterministic command sequences for a seed.

    ``rate`` caps the commands per second (all threads together), so a run lasts about as
    long on a fast machine as on a busy one, and a test can act in the middle of it.
    """

    def __init__(self, *, orders: int, prefix: str, rate: float = 150.0, threads: int = 3, seed: int = 11) -> None:
        self.orders = orders
        self._thread_rate = rate / threads
        self.prefix = prefix
        self.seed = seed
        self.commands = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        share = -(-orders // threads)
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(index, range(index * share, min(orders, (index + 1) * share))),
                name=f"traffic-{index}",
                daemon=True,
            )
            for index in range(threads)
        ]
        self._stop = threading.Event()
        self.started_at = 0.0
        self.finished_at = 0.0

    def start(self) -> OrderTraffic:
        self.started_at = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop after the commands in hand (a failed test must not leave threads appending)."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def join(self, *, timeout: float) -> None:
        """Wait for every thread; re-raise the first error a thread met."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.running():
            raise AssertionError(f"traffic still running after {timeout:.0f}s ({self.commands} commands so far)")
        self.finished_at = time.monotonic()
        if self.errors:
            raise self.errors[0]

    def run(self, *, timeout: float) -> OrderTraffic:
        """Start, then wait for the end."""
        self.start().join(timeout=timeout)
        return self

    def _run(self, index: int, numbers: range) -> None:
        rng = random.Random(self.seed * 1000 + index)
        context = handlers.CommandContext(actor=f"faults-traffic-{index}")
        try:
            # The generator's own commits need no flush to disk: the database server is not what
            # these tests kill, and the machine is shared.
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
            pending = [_order_commands(rng, f"{self.prefix}-{number:05d}", context) for number in numbers]
            active: list[Iterator[Command]] = []
            started = time.monotonic()
            done = 0
            while (pending or active) and not self._stop.is_set():
                while pending and len(active) < _IN_PROGRESS:
                    active.append(pending.pop(0))
                position = rng.randrange(len(active))
                command = next(active[position], None)
                if command is None:
                    active.pop(position)
                    continue
                self._execute(command)
                done += 1
                ahead = started + done / self._thread_rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connection.close()

    def _execute(self, command: Command) -> None:
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                command()
                break
            except WrongExpectedVersion:
                if attempt == _CONFLICT_RETRIES:
                    raise
        with self._lock:
            self.commands += 1
