"""The push socket on the real ASGI app and Redis channel layer: who may connect, what each push
looks like, and that whatever ends a socket takes it out of its groups."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from apps.console import live
from apps.console.consumers import PushConsumer
from apps.console.live import live_events_push
from apps.console.push_renderers import push_socket_url
from apps.console.selectors.events import correlation_event_list, event_recent_list
from apps.eventstore.types import RecordedEvent
from apps.messaging.push import (
    LAG_GROUP,
    LIVE_EVENTS_GROUP,
    PUSH_WATCH_SECONDS,
    READ_MODEL_GROUP,
    REBUILD_GROUP,
    LagSampledMessage,
    LiveRow,
)
from apps.projections.models import ProjectionRebuild
from apps.projections.progress import rebuild_progress_push
from eda_console.asgi import application
from tests.integration.console.conftest import (
    HostileOrder,
    assert_no_raw_markup,
    socket_connect,
    socket_headers,
    sockets_isolated,
    user_with_role,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
LIVE = push_socket_url(LIVE_EVENTS_GROUP)
REBUILDS = push_socket_url(REBUILD_GROUP)
LAG = push_socket_url(LAG_GROUP)
READ_MODELS = push_socket_url(READ_MODEL_GROUP)


@pytest_asyncio.fixture(autouse=True)
async def _sockets_isolated() -> AsyncIterator[None]:
    async with sockets_isolated():
        yield


@pytest.mark.parametrize("path", [LIVE, REBUILDS, LAG, READ_MODELS])
async def test_anonymous_websocket_is_refused(path: str) -> None:
    communicator, connected = await socket_connect(path, None)
    assert not connected
    await communicator.disconnect()


async def test_websocket_of_a_user_without_a_role_is_refused() -> None:
    nobody = await sync_to_async(user_with_role)("nora", None)
    communicator, connected = await socket_connect(LIVE, nobody)
    assert not connected
    await communicator.disconnect()


async def test_websocket_from_a_foreign_origin_is_refused() -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    headers = [(b"origin", b"http://evil.example"), *(await sync_to_async(socket_headers)(viewer))[1:]]
    communicator = WebsocketCommunicator(application, LIVE, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    await communicator.disconnect()


async def _received(communicator: WebsocketCommunicator) -> dict[str, Any]:
    message = await communicator.receive_json_from(timeout=5)
    assert isinstance(message, dict)
    return message


async def test_viewer_receives_pushed_events_escaped(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(LIVE, viewer)
    assert connected
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)
    await sync_to_async(live_events_push)(events)
    message = await _received(communicator)
    assert message["type"] == "events" and message["count"] == len(events) == 2
    for html in message["rows"]:
        assert_no_raw_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message["rows"][0]
    await communicator.disconnect()


async def test_live_stream_renders_nothing_while_nobody_watches_and_rows_flow_soon_after_a_browser_joins(
    hostile_order: HostileOrder, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[int] = []
    row_render = live.live_row_render

    def row_render_counted(event: RecordedEvent) -> LiveRow:
        rendered.append(event.position)
        return row_render(event)

    monkeypatch.setattr(live, "live_row_render", row_render_counted)
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)

    await sync_to_async(live_events_push)(events)
    assert rendered == []

    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(LIVE, viewer)
    assert connected
    # The pusher has just found nobody: it asks again within PUSH_WATCH_SECONDS, as the consumer would.
    joined = time.monotonic()
    while True:
        await sync_to_async(live_events_push)(events)
        if not await communicator.receive_nothing(timeout=0.1):
            break
        assert time.monotonic() - joined < PUSH_WATCH_SECONDS + 1.0, "no row reached the browser that joined"
    assert (await _received(communicator))["count"] == 2
    assert rendered

    await communicator.disconnect()
    await asyncio.sleep(PUSH_WATCH_SECONDS)
    rendered.clear()
    await sync_to_async(live_events_push)(events)
    assert rendered == []


async def test_live_stream_applies_this_browser_filters(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(LIVE, viewer)
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
    communicator, connected = await socket_connect(REBUILDS, viewer)
    assert connected
    job = await sync_to_async(ProjectionRebuild.objects.create)(
        projection="order_summary", status="running", events_done=40, events_total=100, requested_by="olga"
    )
    await sync_to_async(rebuild_progress_push)(job)
    html = await communicator.receive_from(timeout=5)
    assert html.startswith('<div class="rebuild" id="rebuild-order_summary" hx-swap-oob="true">')
    assert '<progress max="100" value="40" aria-label="Rebuild of order_summary">' in html
    assert "data-action" not in html
    await communicator.disconnect()


async def test_rebuild_progress_offers_cancel_to_an_operator() -> None:
    operator = await sync_to_async(user_with_role)("olga", "operator")
    communicator, connected = await socket_connect(REBUILDS, operator)
    assert connected
    job = await sync_to_async(ProjectionRebuild.objects.create)(
        projection="order_summary", status="running", events_done=40, events_total=100, requested_by="olga"
    )
    await sync_to_async(rebuild_progress_push)(job)
    html = await communicator.receive_from(timeout=5)
    assert 'id="rebuild-order_summary" hx-swap-oob="true"' in html
    assert 'data-action="cancel-rebuild"' in html
    await communicator.disconnect()


async def test_an_idle_live_stream_socket_stays_open_past_the_channel_layer_block(hostile_order: HostileOrder) -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(LIVE, viewer)
    assert connected
    # channels_redis blocks 5 s per receive; a read timeout at or under that kills the socket.
    assert await communicator.receive_nothing(timeout=6.5)
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)
    await sync_to_async(live_events_push)(events)
    assert (await _received(communicator))["count"] == 2
    await communicator.disconnect()


async def test_a_lag_sample_pushes_the_consumer_tables_and_the_lag_figure() -> None:
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(LAG, viewer)
    assert connected
    sampled = LagSampledMessage(
        type="lag.sampled", topic="order-events", sampled_at="2026-01-01T00:00:00+00:00", error="", groups=[]
    )
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(LAG_GROUP, dict(sampled))
    html = await communicator.receive_from(timeout=5)
    assert html.startswith('<div id="consumer-tables" hx-swap-oob="true"')
    assert '<div id="lag-figure" class="figure-data" data-figure="{' in html
    # The tables' own rebuild cells are not swapped a second time on their own.
    assert html.count("hx-swap-oob") == 2
    await communicator.disconnect()


async def test_a_socket_whose_group_membership_expired_rejoins(
    hostile_order: HostileOrder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PushConsumer, "GROUP_RENEW_SECONDS", 0.2)
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(LIVE, viewer)
    assert connected
    layer = get_channel_layer()
    # What group_expiry does to a member that stopped renewing: its group entry is gone.
    group_key = layer._group_key(LIVE_EVENTS_GROUP)
    async with layer.connection(layer.consistent_hash(LIVE_EVENTS_GROUP)) as redis:
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
    communicator, connected = await socket_connect(LIVE, viewer)
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
