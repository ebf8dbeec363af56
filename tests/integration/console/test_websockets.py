"""Websockets on the real ASGI app: refused without a role, pushing escaped rows with a role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import connections

from apps.console.consumers import LiveStreamConsumer
from apps.console.live import LIVE_STREAM_CHANNEL_GROUP, live_events_push
from apps.console.selectors.events import correlation_event_list, event_recent_list
from apps.messaging.lag import LAG_CHANNEL_GROUP, LagSampledMessage
from apps.projections.models import ProjectionRebuild
from apps.projections.progress import rebuild_progress_push
from eda_console.asgi import application
from tests.integration.console.conftest import (
    HostileOrder,
    assert_no_raw_markup,
    client_for,
    user_with_role,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = (b"origin", b"http://localhost")


@pytest_asyncio.fixture(autouse=True)
async def _thread_connections_closed() -> AsyncIterator[None]:
    yield
    # The consumers' database calls ran in asgiref's worker thread: close its connection
    # there, or the test database cannot be dropped at the end of the run.
    await sync_to_async(connections.close_all)()


def _headers(user: User | None) -> list[tuple[bytes, bytes]]:
    if user is None:
        return [ORIGIN]
    session = client_for(user).cookies["sessionid"].value
    return [ORIGIN, (b"cookie", f"sessionid={session}".encode())]


async def _connect(path: str, user: User | None) -> tuple[WebsocketCommunicator, bool]:
    headers = await sync_to_async(_headers)(user)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


@pytest.mark.parametrize("path", ["/ws/live/", "/ws/rebuilds/", "/ws/lag/"])
async def test_anonymous_websocket_is_refused(path: str) -> None:
    communicator, connected = await _connect(path, None)
    assert not connected
    await communicator.disconnect()


async def test_websocket_of_a_user_without_a_role_is_refused() -> None:
    nobody = await sync_to_async(user_with_role)("nora", None)
    communicator, connected = await _connect("/ws/live/", nobody)
    assert not connected
    await communicator.disconnect()


async def test_websocket_from_a_foreign_origin_is_refused() -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    headers = [(b"origin", b"http://evil.example"), *(await sync_to_async(_headers)(viewer))[1:]]
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    await communicator.disconnect()


async def _received(communicator: WebsocketCommunicator) -> dict[str, Any]:
    message = await communicator.receive_json_from(timeout=5)
    assert isinstance(message, dict)
    return message


async def test_viewer_receives_pushed_events_escaped(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/live/", viewer)
    assert connected
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)
    await sync_to_async(live_events_push)(events)
    message = await _received(communicator)
    assert message["type"] == "events" and message["count"] == len(events) == 2
    for html in message["rows"]:
        assert_no_raw_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message["rows"][0]
    await communicator.disconnect()


async def test_live_stream_applies_this_browser_filters(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/live/", viewer)
    assert connected
    await communicator.send_json_to({"type": "filter", "event_type": "OrderCancelled"})
    await communicator.receive_nothing(timeout=0.2)
    events = await sync_to_async(event_recent_list)(limit=10)
    await sync_to_async(live_events_push)(list(reversed(events)))
    message = await _received(communicator)
    assert message["count"] == 2
    assert len(message["rows"]) == 1 and "OrderCancelled" in message["rows"][0]
    await communicator.disconnect()


async def test_rebuild_progress_is_pushed_with_the_page_partial_and_no_action_for_a_viewer() -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/rebuilds/", viewer)
    assert connected
    job = await sync_to_async(ProjectionRebuild.objects.create)(
        projection="order_summary", status="running", events_done=40, events_total=100, requested_by="olga"
    )
    await sync_to_async(rebuild_progress_push)(job)
    message = await _received(communicator)
    assert message["type"] == "rebuild" and message["projection"] == "order_summary"
    assert '<progress max="100" value="40">' in message["html"]
    assert "data-action" not in message["html"]
    await communicator.disconnect()


async def test_an_idle_live_stream_socket_stays_open_past_the_channel_layer_block(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/live/", viewer)
    assert connected
    # channels_redis blocks 5 s per receive; a read timeout at or under that kills the socket.
    assert await communicator.receive_nothing(timeout=6.5)
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)
    await sync_to_async(live_events_push)(events)
    assert (await _received(communicator))["count"] == 2
    await communicator.disconnect()


async def test_a_lag_sample_tells_the_consumers_page_to_reload() -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/lag/", viewer)
    assert connected
    sampled = LagSampledMessage(
        type="lag.sampled", topic="order-events", sampled_at="2026-01-01T00:00:00+00:00", error="", groups=[]
    )
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(LAG_CHANNEL_GROUP, dict(sampled))
    assert await _received(communicator) == {"type": "lag", "sampled_at": "2026-01-01T00:00:00+00:00"}
    await communicator.disconnect()


async def test_a_socket_whose_group_membership_expired_rejoins(
    hostile_order: HostileOrder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LiveStreamConsumer, "GROUP_RENEW_SECONDS", 0.2)
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/live/", viewer)
    assert connected
    layer = get_channel_layer()
    # What group_expiry does to a member that stopped renewing: its group entry is gone.
    group_key = layer._group_key(LIVE_STREAM_CHANNEL_GROUP)
    async with layer.connection(layer.consistent_hash(LIVE_STREAM_CHANNEL_GROUP)) as redis:
        await redis.delete(group_key)
        for _ in range(100):
            await asyncio.sleep(0.1)
            if await redis.zcard(group_key):
                break
        assert await redis.zcard(group_key) == 1
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)
    await sync_to_async(live_events_push)(events)
    assert (await _received(communicator))["count"] == 2
    await communicator.disconnect()


async def test_many_small_batches_reach_the_browser_coalesced(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await _connect("/ws/live/", viewer)
    assert connected
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)

    def push_one_at_a_time() -> None:
        for _ in range(50):
            live_events_push(events[:1])

    await sync_to_async(push_one_at_a_time)()
    received, messages = 0, 0
    while received < 50:
        received += (await _received(communicator))["count"]
        messages += 1
    assert received == 50
    # At most one message per 100 ms whatever the consumer hands over.
    assert messages < 10
    await communicator.disconnect()
