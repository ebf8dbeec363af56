"""Websocket consumers. Each checks the user's role itself before it accepts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string

from apps.accounts.roles import user_is_operator, user_is_viewer
from apps.console.live import LIVE_STREAM_CHANNEL_GROUP, LiveEventsMessage, LiveRow
from apps.messaging.lag import LAG_CHANNEL_GROUP, LagSampledMessage
from apps.projections.progress import REBUILD_CHANNEL_GROUP, RebuildProgressMessage

ACTIVE_REBUILD_STATUSES = frozenset({"queued", "running", "swapping"})
_FILTER_FIELDS = ("event_type", "stream", "correlation_id")
_FILTER_MAX_LENGTH = 200


class ViewerWebsocketConsumer(AsyncJsonWebsocketConsumer):
    """Refuses the handshake (HTTP 403) unless the user is logged in with a role.

    Group membership is renewed every ``GROUP_RENEW_SECONDS``, well inside the channel
    layer's ``group_expiry``: a web process that dies without discarding its members
    leaves them behind only until they expire, and every push pays for each one.
    """

    groups_joined: tuple[str, ...] = ()
    GROUP_RENEW_SECONDS = 60.0

    async def connect(self) -> None:
        self._renewal: asyncio.Task[None] | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await database_sync_to_async(user_is_viewer)(user):
            await self.close()
            return
        await self._groups_join()
        await self.accept()
        self._renewal = asyncio.create_task(self._groups_renew())

    async def disconnect(self, code: int) -> None:
        renewal = getattr(self, "_renewal", None)
        if renewal is not None:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _groups_join(self) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _groups_renew(self) -> None:
        while True:
            await asyncio.sleep(self.GROUP_RENEW_SECONDS)
            await self._groups_join()


class LiveStreamConsumer(ViewerWebsocketConsumer):
    """Forwards rendered event rows that match this browser's filters.

    The browser sends ``{"type": "filter", "event_type": ..., "stream": ..., "correlation_id": ...}``;
    ``stream`` matches a stream id prefix, the others match exactly, empty matches all.
    """

    groups_joined = (LIVE_STREAM_CHANNEL_GROUP,)

    async def connect(self) -> None:
        self.filters: dict[str, str] = {}
        await super().connect()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "filter":
            return
        self.filters = {
            field: str(content.get(field) or "")[:_FILTER_MAX_LENGTH].strip()
            for field in _FILTER_FIELDS
            if content.get(field)
        }

    def _matches(self, row: LiveRow) -> bool:
        filters = self.filters
        if filters.get("event_type") and row["event_type"] != filters["event_type"]:
            return False
        if filters.get("stream") and not row["stream_id"].startswith(filters["stream"]):
            return False
        return not (filters.get("correlation_id") and row["correlation_id"] != filters["correlation_id"])

    async def live_events(self, message: LiveEventsMessage) -> None:
        rows = [row["html"] for row in message["rows"] if self._matches(row)]
        await self.send_json({"type": "events", "count": message["count"], "rows": rows, "sent_at": message["sent_at"]})


class RebuildProgressConsumer(ViewerWebsocketConsumer):
    """Renders each rebuild progress message with the consumers page's own partial."""

    groups_joined = (REBUILD_CHANNEL_GROUP,)

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.is_operator = bool(user and user.is_authenticated and await database_sync_to_async(user_is_operator)(user))
        await super().connect()

    async def rebuild_progress(self, message: RebuildProgressMessage) -> None:
        rebuild = {**message, "active": message["status"] in ACTIVE_REBUILD_STATUSES}
        html = render_to_string(
            "console/consumers.html#rebuild-progress", {"rebuild": rebuild, "is_operator": self.is_operator}
        )
        await self.send_json({"type": "rebuild", "projection": message["projection"], "html": html})


class LagConsumer(ViewerWebsocketConsumer):
    """Tells the consumers page that a lag sample was taken, so it reloads at once."""

    groups_joined = (LAG_CHANNEL_GROUP,)

    async def lag_sampled(self, message: LagSampledMessage) -> None:
        await self.send_json({"type": "lag", "sampled_at": message["sampled_at"]})
