"""The live event stream: a consumer group that pushes rendered rows to the browsers.

The worker hosts ``console.live-stream`` like any other consumer. While a browser watches
(a socket in the live-events group), each batch is rendered once, with the same partial
the page uses (autoescaped), and pushed to that group; each websocket applies its own
filters. While nobody watches, batches are passed over unrendered. The view is best effort: a push that fails
is logged and dropped, never retried and never dead-lettered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import cast

from django.template.loader import get_template

from apps.eventstore.types import RecordedEvent
from apps.messaging.push import (
    LIVE_EVENTS_GROUP,
    LiveEventsMessage,
    LiveRow,
    PushCoalescer,
    PushMessage,
    push_group_watched,
)
from apps.messaging.registry import ConsumerSpec, consumer_register

logger = logging.getLogger(__name__)

LIVE_STREAM_CONSUMER_GROUP = "console.live-stream"
# The browser keeps at most this many rows, so a bigger batch sends only its newest.
LIVE_ROWS_MAX = 500
EVENT_ROW_TEMPLATE = "console/live.html#event-row"
# A worker catching up on a backlog does not flood the browsers with old news.
LIVE_MAX_AGE_SECONDS = 300
LIVE_PUSH_INTERVAL = 0.1


def live_row_render(event: RecordedEvent) -> LiveRow:
    html = get_template(EVENT_ROW_TEMPLATE).render({"event": event})
    return LiveRow(
        html=html,
        position=event.position,
        event_type=event.event_type,
        stream_id=event.stream_id,
        correlation_id=event.correlation_id,
    )


def _live_rows_merge(older: PushMessage, newer: PushMessage) -> PushMessage:
    waiting, arriving = cast(LiveEventsMessage, older), cast(LiveEventsMessage, newer)
    return LiveEventsMessage(
        type="live.events",
        rows=(waiting["rows"] + arriving["rows"])[-LIVE_ROWS_MAX:],
        count=waiting["count"] + arriving["count"],
        sent_at=arriving["sent_at"],
    )


# At most ten messages a second per worker, each with the newest rows.
_coalescer = PushCoalescer(interval=LIVE_PUSH_INTERVAL, merge=_live_rows_merge)


def live_events_push(events: Sequence[RecordedEvent]) -> None:
    """Render ``events`` and queue them for every browser watching the live stream; nobody watching, do nothing.

    Rendering every event was about 5 % of the consumer process under load, for no one when
    no live stream page is open.
    """
    if not events:
        return
    try:
        if not push_group_watched(LIVE_EVENTS_GROUP):
            return
        oldest = time.time() - LIVE_MAX_AGE_SECONDS
        recent = [event for event in events[-LIVE_ROWS_MAX:] if event.recorded_at.timestamp() >= oldest]
        message = LiveEventsMessage(
            type="live.events",
            rows=[live_row_render(event) for event in recent],
            count=len(events),
            sent_at=time.time(),
        )
        _coalescer.offer(key=LIVE_EVENTS_GROUP, group=LIVE_EVENTS_GROUP, message=message)
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
