"""Users with each role, logged-in clients, and an order whose every string is hostile HTML."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext

# Each fragment would run script or inject markup if it reached a page unescaped.
ORDER_ID = "x<script>alert(1)</script>"
CUSTOMER_ID = "<img src=x onerror=alert(2)>"
SKU = "<script>alert(3)</script>"
ACTOR = "<b onmouseover=alert(4)>eve</b>"
CORRELATION_ID = "c-<script>alert(5)</script>"
REASON = "</pre><script>alert(6)</script>"
RAW_FRAGMENTS = ("<script>alert", "<img src=x", "<b onmouseover", "</pre><script>")


@dataclass(frozen=True)
class HostileOrder:
    stream_id: str
    correlation_id: str


def user_with_role(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        # get_or_create: a transactional test flushes the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_no_raw_markup(html: str) -> None:
    for fragment in RAW_FRAGMENTS:
        assert fragment not in html, f"unescaped {fragment!r} in the page"


@pytest.fixture
def viewer(db: None) -> User:
    return user_with_role("victor", "viewer")


@pytest.fixture
def operator(db: None) -> User:
    return user_with_role("olga", "operator")


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return client_for(viewer)


@pytest.fixture
def operator_client(operator: User) -> Client:
    return client_for(operator)


@pytest.fixture
def hostile_order(db: None) -> HostileOrder:
    ctx = CommandContext(actor=ACTOR, correlation_id=CORRELATION_ID)
    line = cmds.OrderLine(sku=SKU, quantity=2, unit_price_cents=1250)
    result = handlers.place_order(
        cmds.PlaceOrder(order_id=ORDER_ID, customer_id=CUSTOMER_ID, currency="EUR", lines=(line,)), ctx
    )
    handlers.cancel_order(cmds.CancelOrder(order_id=ORDER_ID, reason=REASON), ctx)
    return HostileOrder(stream_id=result.stream_id, correlation_id=CORRELATION_ID)
