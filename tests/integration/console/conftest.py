"""Users with each role, logged-in clients, an order whose every string is hostile HTML, and
websocket clients of the real ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client

from apps.messaging.push import PUSH_GROUPS, push_watch_forget
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext
from eda_console.asgi import application

# Each fragment would run script or inject markup if it reached a page unescaped.
ORDER_ID = "x<script>alert(1)</script>"
CUSTOMER_ID = "<img src=x onerror=alert(2)>"
SKU = "<script>alert(3)</script>"
ACTOR = "<b onmouseover=alert(4)>eve</b>"
CORRELATION_ID = "c-<script>alert(5)</script>"
REASON = "</pre><script>alert(6)</script>"
RAW_FRAGMENTS = ("<script>alert", "<img src=x", "<b onmouseover", "</pre><script>")
ORIGIN = (b"origin", b"http://localhost")


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


def socket_headers(user: User | None) -> list[tuple[bytes, bytes]]:
    if user is None:
        return [ORIGIN]
    session = client_for(user).cookies["sessionid"].value
    return [ORIGIN, (b"cookie", f"sessionid={session}".encode())]


async def socket_handshake(path: str, user: User | None) -> tuple[WebsocketCommunicator, bool, int | str | None]:
    """A websocket client of the real ASGI app after its handshake: (client, accepted, close code if refused)."""
    headers = await sync_to_async(socket_headers)(user)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def socket_connect(path: str, user: User | None) -> tuple[WebsocketCommunicator, bool]:
    communicator, connected, _ = await socket_handshake(path, user)
    return communicator, connected


async def push_group_members(group: str) -> int:
    """How many channels the Redis channel layer holds in ``group``."""
    layer = get_channel_layer()
    async with layer.connection(layer.consistent_hash(group)) as redis:
        return int(await redis.zcard(layer._group_key(group)))


@asynccontextmanager
async def sockets_isolated() -> AsyncIterator[None]:
    """Empty push groups to start with, and no database connection left behind in asgiref's thread."""
    layer = get_channel_layer()
    # Members left by an earlier run would make membership counts lie.
    for group in PUSH_GROUPS:
        async with layer.connection(layer.consistent_hash(group)) as redis:
            await redis.delete(layer._group_key(group))
    # What this process learnt of those members is stale too.
    push_watch_forget()
    yield
    # The consumers' database calls ran in asgiref's worker thread: close its connection
    # there, or the test database cannot be dropped at the end of the run.
    await sync_to_async(connections.close_all)()
