"""The live event stream: a consumer group that pushes rendered rows to the browsers.

The worker hosts ``console.live-stream`` like any other consumer. Each batch is rendered
once, with the same partial the page uses (autoescaped), and sent to one Channels group;
each websocket applies its own filters. The view is best effort: a push that fails is
logged and dropped, never retried and never dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Literal, TypedDict

from channels.layers import get_channel_layer
from django.template.loader import get_template

from apps.eventstore.types import RecordedEvent
from apps.messaging.registry import ConsumerSpec, consumer_register

logger = logging.getLogger(__name__)

LIVE_STREAM_CONSUMER_GROUP = "console.live-stream"
LIVE_STREAM_CHANNEL_GROUP = "console-live-stream"
# The browser keeps at most this many rows, so a bigger batch sends only its newest.
LIVE_ROWS_MAX = 500
EVENT_ROW_TEMPLATE = "console/live.html#event-row"
# A worker catching up on a backlog does not flood the browsers with old news.
LIVE_MAX_AGE_SECONDS = 300
LIVE_PUSH_INTERVAL = 0.1


class LiveRow(TypedDict):
    html: str
    position: int
    event_type: str
    stream_id: str
    correlation_id: str


class LiveEventsMessage(TypedDict):
    type: Literal["live.events"]
    rows: list[LiveRow]
    # Events in the batch before any cut or filter: the browser's rate counts these.
    count: int
    sent_at: float


def live_row_render(event: RecordedEvent) -> LiveRow:
    html = get_template(EVENT_ROW_TEMPLATE).render({"event": event})
    return LiveRow(
        html=html,
        position=event.position,
        event_type=event.event_type,
        stream_id=event.stream_id,
        correlation_id=event.correlation_id,
    )


class _LivePusher:
    """Sends rendered rows to the group from one event loop, at most once per ``LIVE_PUSH_INTERVAL``.

    One loop in its own thread: ``async_to_sync`` would start a loop per call, and
    channels_redis keeps its connections per loop (a push would reconnect: ~18 ms against
    ~1 ms). Coalescing: however many small batches the consumer hands over, the browsers
    get at most ten messages a second per worker, each with the newest rows; an idle
    stream sends at once, so a lone event is not delayed.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._rows: list[LiveRow] = []
        self._count = 0
        self._scheduled = False
        self._last_sent = 0.0
        self._sending: asyncio.Future[None] | None = None

    def _running(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or not self._loop.is_running():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="console-live-push", daemon=True).start()
            self._loop = loop
        return self._loop

    def rows_add(self, rows: list[LiveRow], count: int) -> None:
        with self._lock:
            self._rows = (self._rows + rows)[-LIVE_ROWS_MAX:]
            self._count += count
            if self._scheduled:
                return
            self._scheduled = True
            delay = max(0.0, self._last_sent + LIVE_PUSH_INTERVAL - time.monotonic())
            loop = self._running()
        loop.call_soon_threadsafe(loop.call_later, delay, self._send_start)

    def _send_start(self) -> None:
        self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        with self._lock:
            rows, count = self._rows, self._count
            self._rows, self._count, self._scheduled = [], 0, False
            self._last_sent = time.monotonic()
        layer = get_channel_layer()
        if layer is None:
            return
        message = LiveEventsMessage(type="live.events", rows=rows, count=count, sent_at=time.time())
        try:
            await layer.group_send(LIVE_STREAM_CHANNEL_GROUP, message)
        except Exception:
            logger.warning("live stream push of %d events failed", count, exc_info=True)


_pusher = _LivePusher()


def live_events_push(events: Sequence[RecordedEvent]) -> None:
    """Render ``events`` and queue them for every browser watching the live stream."""
    if not events:
        return
    try:
        oldest = time.time() - LIVE_MAX_AGE_SECONDS
        recent = [event for event in events[-LIVE_ROWS_MAX:] if event.recorded_at.timestamp() >= oldest]
        _pusher.rows_add([live_row_render(event) for event in recent], len(events))
    except Exception:
        logger.warning("live stream push of %d events failed", len(events), exc_info=True)


def _live_event_push(event: RecordedEvent) -> None:
    live_events_push([event])


def live_stream_register() -> None:
    consumer_register(
        ConsumerSpec(
            group_id=LIVE_STREAM_CONSUMER_GROUP,
            handle_batch=live_events_push,
            handle_one=_live_event_push,
            description="Pushes every event to the console's live stream page (best effort, no read model).",
        )
    )
