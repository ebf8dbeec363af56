"""What ends a push socket, and that it always leaves its groups: unreadable frames, a crash,
a removed role; handshakes that are refused with a close code; the read-model push after a
projection batch; health measured once for many tabs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from apps.console.consumers import PushConsumer
from apps.console.push_renderers import push_socket_url
from apps.console.selectors.events import correlation_event_list
from apps.messaging.dead_letters import dead_letter_skip
from apps.messaging.dead_letters.models import DeadLetter
from apps.messaging.push import LIVE_EVENTS_GROUP, READ_MODEL_GROUP, READ_MODEL_PUSH_INTERVAL
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext
from apps.projections.live import projection_batch_handle
from tests.integration.console.conftest import (
    HostileOrder,
    push_group_members,
    socket_connect,
    socket_handshake,
    sockets_isolated,
    user_with_role,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
LIVE = push_socket_url(LIVE_EVENTS_GROUP)


@pytest_asyncio.fixture(autouse=True)
async def _sockets_isolated() -> AsyncIterator[None]:
    async with sockets_isolated():
        yield


async def _viewer() -> User:
    return await sync_to_async(user_with_role)("victor", "viewer")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param({"bytes_data": b"\x00\x01\x02"}, 4003, id="binary"),
        pytest.param({"text_data": "x" * 1_000_000}, 4009, id="one-megabyte-of-text"),
        pytest.param({"text_data": "{not json"}, 4007, id="not-json"),
        pytest.param({"text_data": "[" * 10_000 + "]" * 10_000}, 4007, id="ten-thousand-deep"),
        pytest.param({"text_data": '{"type": "filter", "stream": ' + "[" * 20 + "]" * 20 + "}"}, 4007, id="too-deep"),
    ],
)
async def test_an_unreadable_frame_closes_the_socket_with_its_code_and_leaves_the_group(
    frame: dict[str, str | bytes], code: int, caplog: pytest.LogCaptureFixture
) -> None:
    communicator, connected = await socket_connect(LIVE, await _viewer())
    assert connected and await push_group_members(LIVE_EVENTS_GROUP) == 1
    with caplog.at_level(logging.INFO):
        await communicator.send_to(**frame)  # type: ignore[arg-type]
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": code}
        await communicator.wait(timeout=5)
    assert await push_group_members(LIVE_EVENTS_GROUP) == 0
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


async def test_a_crashed_socket_leaves_its_group_and_stops_renewing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PushConsumer, "GROUP_RENEW_SECONDS", 0.1)

    async def crash(self: PushConsumer, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raise RuntimeError("a bug in the consumer")

    monkeypatch.setattr(PushConsumer, "receive", crash)
    communicator, connected = await socket_connect(LIVE, await _viewer())
    assert connected
    await communicator.send_to(text_data="{}")
    with pytest.raises(RuntimeError, match="a bug in the consumer"):
        await communicator.wait(timeout=5)
    assert await push_group_members(LIVE_EVENTS_GROUP) == 0
    # A renewal still running would put the channel back within its period.
    await asyncio.sleep(0.5)
    assert await push_group_members(LIVE_EVENTS_GROUP) == 0


async def test_a_handshake_on_an_unknown_path_is_refused_with_4404() -> None:
    communicator, connected, code = await socket_handshake("/ws/nothing-here/", await _viewer())
    assert (connected, code) == (False, 4404)
    await communicator.wait(timeout=5)


async def test_a_handshake_asking_for_an_unknown_group_is_refused_with_4400() -> None:
    communicator, connected, code = await socket_handshake("/ws/push/?group=push.everything", await _viewer())
    assert (connected, code) == (False, 4400)
    await communicator.wait(timeout=5)


async def test_a_user_whose_role_is_removed_stops_receiving_within_one_renewal_period(
    monkeypatch: pytest.MonkeyPatch, hostile_order: HostileOrder
) -> None:
    monkeypatch.setattr(PushConsumer, "GROUP_RENEW_SECONDS", 0.3)
    viewer = await _viewer()
    communicator, connected = await socket_connect(LIVE, viewer)
    assert connected
    await sync_to_async(viewer.groups.clear)()
    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}
    assert await push_group_members(LIVE_EVENTS_GROUP) == 0
    await communicator.wait(timeout=5)


async def test_a_projection_batch_that_commits_pushes_the_read_model_tiles(hostile_order: HostileOrder) -> None:
    communicator, connected = await socket_connect(push_socket_url(READ_MODEL_GROUP), await _viewer())
    assert connected
    events = await sync_to_async(correlation_event_list)(correlation_id=hostile_order.correlation_id)
    outcome = await sync_to_async(projection_batch_handle)(name="order_summary", events=events)
    assert outcome.applied == 2
    html = await communicator.receive_from(timeout=5)
    assert html.startswith('<div id="read-model-tiles" class="tiles-part" hx-swap-oob="true">')
    assert "Dead letters waiting" in html
    figure = html[html.index('<div id="orders-by-status-figure"') :]
    assert figure.startswith('<div id="orders-by-status-figure" class="figure-data" data-figure="{')
    assert 'hx-swap-oob="true"' in figure and "cancelled" in figure
    await communicator.disconnect()


async def test_skipping_a_dead_letter_pushes_the_tiles_with_the_new_count() -> None:
    operator = await sync_to_async(user_with_role)("olga", "operator")
    parked = await sync_to_async(DeadLetter.objects.create)(
        group_id="projection.order_summary",
        position=1,
        stream_id="order-skipped",
        event_type="OrderPlaced",
        topic="order-events",
        partition=0,
        offset=0,
        error_class="builtins.RuntimeError",
    )
    communicator, connected = await socket_connect(push_socket_url(READ_MODEL_GROUP), await _viewer())
    assert connected

    await sync_to_async(dead_letter_skip)(dead_letter_id=parked.pk, reason="known bad", actor=operator)

    html = await communicator.receive_from(timeout=5)
    tile = html[html.index("Dead letters waiting") :]
    assert '<div class="tile-value">0</div>' in tile.split("</div></div>")[0] + "</div></div>"
    await communicator.disconnect()


async def test_a_busy_worker_pushes_the_read_model_tiles_a_few_times_a_second_not_once_per_batch() -> None:
    communicator, connected = await socket_connect(push_socket_url(READ_MODEL_GROUP), await _viewer())
    assert connected

    def orders_applied_one_event_per_batch() -> int:
        ctx = CommandContext(actor="tester", correlation_id="busy")
        line = cmds.OrderLine(sku="sku-1", quantity=1, unit_price_cents=100)
        for index in range(20):
            handlers.place_order(cmds.PlaceOrder(f"busy-{index}", "cust-1", "EUR", (line,)), ctx)
        events = correlation_event_list(correlation_id="busy")
        return sum(projection_batch_handle(name="order_summary", events=[event]).applied for event in events)

    started = time.monotonic()
    assert await sync_to_async(orders_applied_one_event_per_batch)() == 20
    frames = []
    while frame := await _frame_or_none(communicator, timeout=1.5):
        frames.append(frame)
    # At most one push per READ_MODEL_PUSH_INTERVAL (0.5 s), plus the one sent at once.
    assert 1 <= len(frames) <= (time.monotonic() - started) / READ_MODEL_PUSH_INTERVAL + 1
    assert len(frames) < 20
    # The last push shows the state after the last batch.
    assert "&quot;y&quot;:[20]" in frames[-1]
    await communicator.disconnect()


async def _frame_or_none(communicator: WebsocketCommunicator, *, timeout: float) -> str | None:
    if await communicator.receive_nothing(timeout=timeout):
        return None
    return str(await communicator.receive_from(timeout=1))
