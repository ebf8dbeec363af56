"""The reference: the same order workload in the ``eventsourcing`` library (9.5.6) on PostgreSQL.

Modelled the way that library's documentation models an aggregate: public command
methods check the rules, then trigger an event whose decorated method applies it; the
application gets the aggregate from its repository, calls the command and saves it, one
call (and one transaction) per command. Ids are the library's default UUIDs; events go
through its default JSON transcoder and its PostgreSQL application recorder, which takes
an EXCLUSIVE table lock per insert to keep the notification log gapless.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.common import connect_kwargs


class RuleBroken(Exception):
    pass


def _line_check(sku: str, quantity: int, unit_price_cents: int) -> None:
    if not sku:
        raise RuleBroken("sku must not be empty")
    if quantity <= 0:
        raise RuleBroken("quantity must be > 0")
    if unit_price_cents < 0:
        raise RuleBroken("unit price must be >= 0")


class EsOrder(Aggregate):
    """Order with the same rules and events as apps.orders.domain.order.Order."""

    @event("Placed")
    def __init__(self, *, order_id: str, customer_id: str, currency: str, lines: list[dict[str, Any]]) -> None:
        self.order_id = order_id
        self.customer_id = customer_id
        self.currency = currency
        self.lines = list(lines)
        self.status = "placed"

    @classmethod
    def place(cls, *, order_id: str, customer_id: str, currency: str, lines: list[dict[str, Any]]) -> EsOrder:
        if not lines:
            raise RuleBroken("an order needs at least one line")
        for line in lines:
            _line_check(line["sku"], line["quantity"], line["unit_price_cents"])
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise RuleBroken("currency must be a 3-letter ISO code")
        return cls(order_id=order_id, customer_id=customer_id, currency=currency, lines=lines)

    def add_line(self, *, sku: str, quantity: int, unit_price_cents: int) -> None:
        if self.status != "placed":
            raise RuleBroken("lines can only be added to a placed order")
        _line_check(sku, quantity, unit_price_cents)
        self._line_added(sku=sku, quantity=quantity, unit_price_cents=unit_price_cents)

    @event("LineAdded")
    def _line_added(self, *, sku: str, quantity: int, unit_price_cents: int) -> None:
        self.lines.append({"sku": sku, "quantity": quantity, "unit_price_cents": unit_price_cents})

    def confirm(self) -> None:
        if self.status == "confirmed":
            return
        if self.status != "placed":
            raise RuleBroken(f"a {self.status} order cannot be confirmed")
        self._confirmed()

    @event("Confirmed")
    def _confirmed(self) -> None:
        self.status = "confirmed"

    def ship(self) -> None:
        if self.status != "confirmed":
            raise RuleBroken(f"a {self.status} order cannot be shipped")
        self._shipped()

    @event("Shipped")
    def _shipped(self) -> None:
        self.status = "shipped"


class EsOrders(Application[UUID]):
    """Command methods: get the aggregate, let it decide, save it; one transaction each."""

    log_section_size = 1000

    def place_order(self, *, order_id: str, customer_id: str, currency: str, lines: list[dict[str, Any]]) -> UUID:
        order = EsOrder.place(order_id=order_id, customer_id=customer_id, currency=currency, lines=lines)
        self.save(order)
        return order.id

    def add_order_line(self, order_id: UUID, *, sku: str, quantity: int, unit_price_cents: int) -> None:
        order: EsOrder = self.repository.get(order_id)
        order.add_line(sku=sku, quantity=quantity, unit_price_cents=unit_price_cents)
        self.save(order)

    def confirm_order(self, order_id: UUID) -> None:
        order: EsOrder = self.repository.get(order_id)
        order.confirm()
        self.save(order)

    def ship_order(self, order_id: UUID) -> None:
        order: EsOrder = self.repository.get(order_id)
        order.ship()
        self.save(order)


def es_application(database: str, *, create_tables: bool = True) -> EsOrders:
    """An EsOrders application on ``database`` with the library's PostgreSQL persistence.

    Writer processes pass ``create_tables=False``: the library's CREATE ... IF NOT EXISTS
    statements collide when several processes run them at once.
    """
    params = connect_kwargs(database)
    return EsOrders(
        env={
            "CREATE_TABLE": "y" if create_tables else "n",
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params["dbname"]),
            "POSTGRES_HOST": str(params["host"]),
            "POSTGRES_PORT": str(params["port"]),
            "POSTGRES_USER": str(params["user"]),
            # Trust auth ignores it, but the library insists on one.
            "POSTGRES_PASSWORD": str(params["password"]) or "bench",
        }
    )


def es_order_workload(app: EsOrders, order_id: str) -> UUID:
    """The five commands of one order: place, two lines, confirm, ship."""
    aggregate_id = app.place_order(
        order_id=order_id,
        customer_id="customer-1",
        currency="EUR",
        lines=[{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
    )
    app.add_order_line(aggregate_id, sku="SKU-2", quantity=1, unit_price_cents=499)
    app.add_order_line(aggregate_id, sku="SKU-3", quantity=3, unit_price_cents=10)
    app.confirm_order(aggregate_id)
    app.ship_order(aggregate_id)
    return aggregate_id
