"""The console's one websocket: a page joins the push groups it shows, and each push arrives rendered.

A page opens ``/ws/push/?group=<name>&...`` through htmx's websocket extension; every
group message is rendered for this socket by its kind's renderer (``apps.console.push_renderers``)
and sent as one text frame (hx-swap-oob fragments, or JSON the live stream takes itself).

Close codes (a refusal at the handshake is a close before accept, which the browser sees
as HTTP 403 and the ASGI test client as this code):

- 4400: the handshake asked for a group that does not exist.
- 4401: not logged in, or no role (at the handshake).
- 4403: the role was removed while the socket was open.
- 4404: no websocket lives at this path.
- 4003: a binary frame (RFC 6455's 1003, unsupported data).
- 4007: a text frame that is not JSON, or nested deeper than ``MAX_JSON_DEPTH`` (1007, invalid data).
- 4009: a text frame over ``MAX_FRAME_CHARS`` (1009, too big).

The last three are RFC 6455's codes moved into the application range: daphne's websocket
library (autobahn) lets a server close only with 1000 or 3000-4999, and raises on the rest.

Whatever ends the socket (a close, a bad frame, a crash), it leaves its groups and its
renewal task stops: a channel left in a group costs every push until the group expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model

from apps.accounts.roles import user_is_operator, user_is_viewer
from apps.console.push_renderers import PUSH_RENDERERS, LiveFilters, PushViewer, push_frame_render
from apps.messaging.push import PUSH_GROUPS

logger = logging.getLogger(__name__)

CLOSE_UNKNOWN_GROUP = 4400
CLOSE_NOT_ALLOWED = 4401
CLOSE_ROLE_REMOVED = 4403
CLOSE_UNKNOWN_PATH = 4404
CLOSE_UNSUPPORTED_DATA = 4003
CLOSE_INVALID_DATA = 4007
CLOSE_TOO_BIG = 4009

# Filters are a few hundred characters; the cap leaves room, and bounds what a frame costs.
MAX_FRAME_CHARS = 64 * 1024
MAX_JSON_DEPTH = 16
_FILTER_FIELDS = ("event_type", "stream", "correlation_id", "saga_id")
_FILTER_MAX_LENGTH = 200


class _UnreadableFrame(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _json_depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


def _frame_read(text_data: str | None, bytes_data: bytes | None) -> Any:
    if text_data is None:
        raise _UnreadableFrame(CLOSE_UNSUPPORTED_DATA)
    if len(text_data) > MAX_FRAME_CHARS:
        raise _UnreadableFrame(CLOSE_TOO_BIG)
    try:
        content = json.loads(text_data)
    except (ValueError, RecursionError):
        raise _UnreadableFrame(CLOSE_INVALID_DATA) from None
    if _json_depth(content) > MAX_JSON_DEPTH:
        raise _UnreadableFrame(CLOSE_INVALID_DATA)
    return content


def _filters_read(content: dict[str, Any]) -> LiveFilters:
    return LiveFilters(
        {
            field: str(content[field])[:_FILTER_MAX_LENGTH].strip()
            for field in _FILTER_FIELDS
            if isinstance(content.get(field), str) and content[field].strip()
        }
    )


class PushConsumer(AsyncWebsocketConsumer):
    """Checks the role on connect and every ``GROUP_RENEW_SECONDS``; renders each push for this viewer.

    Group membership is renewed at the same period, well inside the channel layer's
    ``group_expiry``: a web process that dies without discarding its members leaves them
    behind only until they expire. The role found at the last check is what a delivered
    push is checked against, so a removed role stops the pushes within one period.
    """

    GROUP_RENEW_SECONDS = 60.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.groups: list[str] = []
        self.viewer: PushViewer | None = None
        self._renewal: asyncio.Task[None] | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._groups_leave()

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        asked = query.get("group", [])
        if not set(asked) <= PUSH_GROUPS:
            await self.close(code=CLOSE_UNKNOWN_GROUP)
            return
        self.viewer = await self._viewer_load()
        if self.viewer is None:
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        # The page's own filters (the one saga a saga page shows) come with the socket's URL.
        self.viewer = self.viewer.filtered(_filters_read({field: values[-1] for field, values in query.items()}))
        self.groups = sorted(set(asked))
        await self._groups_join()
        await self.accept()
        self._renewal = asyncio.create_task(self._groups_renew())

    async def disconnect(self, code: int) -> None:
        await self._groups_leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = _frame_read(text_data, bytes_data)
        except _UnreadableFrame as unreadable:
            logger.info("push socket closed on an unreadable frame (close code %d)", unreadable.code)
            await self._close_and_stop(unreadable.code)
            return
        if isinstance(content, dict) and content.get("type") == "filter" and self.viewer is not None:
            self.viewer = self.viewer.filtered(_filters_read(content))

    async def dispatch(self, message: Any) -> None:
        if message.get("type") not in PUSH_RENDERERS:
            await super().dispatch(message)
            return
        viewer = self.viewer
        if viewer is None:
            return
        try:
            frame = await database_sync_to_async(push_frame_render)(message=message, viewer=viewer)
        except Exception:
            logger.warning("rendering a %s push failed", message.get("type"), exc_info=True)
            return
        if frame:
            await self.send(text_data=frame)

    async def _viewer_load(self) -> PushViewer | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None

        def roles() -> tuple[bool, bool]:
            # A fresh row: the role or the active flag may have changed since the handshake.
            fresh = get_user_model()._default_manager.filter(pk=user.pk).first()
            return user_is_viewer(fresh), user_is_operator(fresh)

        is_viewer, is_operator = await database_sync_to_async(roles)()
        if not is_viewer:
            return None
        # The filters as they are now: the browser may have sent new ones during the query.
        filters = self.viewer.live_filters if self.viewer is not None else LiveFilters({})
        return PushViewer(is_operator=is_operator, live_filters=filters)

    async def _groups_join(self) -> None:
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _groups_leave(self) -> None:
        renewal, self._renewal = self._renewal, None
        if renewal is not None and renewal is not asyncio.current_task():
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        groups, self.groups = self.groups, []
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.warning("push socket could not leave %s; it expires from the group", group, exc_info=True)

    async def _close_and_stop(self, code: int) -> None:
        await self._groups_leave()
        await self.close(code=code)
        raise StopConsumer

    async def _groups_renew(self) -> None:
        while True:
            await asyncio.sleep(self.GROUP_RENEW_SECONDS)
            try:
                self.viewer = await self._viewer_load()
                if self.viewer is None:
                    await self._groups_leave()
                    await self.close(code=CLOSE_ROLE_REMOVED)
                    return
                await self._groups_join()
            except Exception:
                logger.warning("push socket renewal failed; retrying next period", exc_info=True)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Refuses a handshake on a path no websocket lives at, instead of failing the router with a 500."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_UNKNOWN_PATH)
