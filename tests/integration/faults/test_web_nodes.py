"""Two web processes behind one channel layer: a browser on either gets every live push.

Two real daphne processes share the stack's database and Redis (the channel layer); a
websocket client logged in as a viewer connects to each, as a browser behind a load
balancer would land on one or the other. Every kind of push, sent once from another
process (as a worker sends them), must reach both sockets, each rendered by its own node.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import websockets

from apps.console.push_renderers import push_socket_url
from apps.messaging.push import (
    LAG_GROUP,
    LIVE_EVENTS_GROUP,
    READ_MODEL_GROUP,
    REBUILD_GROUP,
    LagSampledMessage,
    LiveEventsMessage,
    PushMessage,
    ReadModelChangedMessage,
    RebuildProgressMessage,
    push_send,
)
from eda_console.embedded import port_wait
from tests.integration.console.conftest import client_for, user_with_role
from tests.support.stack import PipelineStack

NODES = ("web", "web-2")
GROUPS = (LIVE_EVENTS_GROUP, LAG_GROUP, REBUILD_GROUP, READ_MODEL_GROUP)
RECEIVE_SECONDS = 20.0


def pushes_of_every_kind(marker: str) -> list[PushMessage]:
    """One message of each kind, each carrying ``marker`` where its rendered frame shows it."""
    live: LiveEventsMessage = {
        "type": "live.events",
        "rows": [
            {
                "html": f'<tr data-marker="{marker}"></tr>',
                "position": 1,
                "event_type": "OrderPlaced",
                "stream_id": "order-web-nodes",
                "correlation_id": marker,
            }
        ],
        "count": 1,
        "sent_at": time.time(),
    }
    lag: LagSampledMessage = {
        "type": "lag.sampled",
        "topic": "order-events",
        "sampled_at": f"2026-01-01T00:00:00+00:00#{marker}",
        "error": "",
        "groups": [],
    }
    rebuild: RebuildProgressMessage = {
        "type": "rebuild.progress",
        "job_id": str(uuid.uuid4()),
        "projection": f"projection-{marker}",
        "status": "running",
        "events_done": 1,
        "events_total": 2,
        "rate": 1.0,
        "eta_seconds": 1.0,
        "error": "",
    }
    changed: ReadModelChangedMessage = {"type": "read_model.changed", "source": marker, "changed_at": time.time()}
    return [live, lag, rebuild, changed]


def frame_kind(frame: str, marker: str) -> str | None:
    """Which push a frame renders (None for a frame of something else)."""
    if frame.startswith("{"):
        rows = orjson.loads(frame).get("rows", [])
        return "live.events" if any(marker in row for row in rows) else None
    if f'id="rebuild-projection-{marker}"' in frame:
        return "rebuild.progress"
    if 'id="consumer-tables"' in frame:
        return "lag.sampled"
    if 'id="read-model-tiles"' in frame:
        return "read_model.changed"
    return None


async def frames_receive(socket: websockets.ClientConnection, marker: str) -> set[str]:
    """The kinds of push this socket got within the deadline (stops early once it has all four)."""
    kinds: set[str] = set()
    deadline = time.monotonic() + RECEIVE_SECONDS
    while len(kinds) < 4 and time.monotonic() < deadline:
        try:
            frame = await asyncio.wait_for(socket.recv(), timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        kind = frame_kind(str(frame), marker)
        if kind:
            kinds.add(kind)
    return kinds


async def pushes_received_on_each_node(*, ports: dict[str, int], session: str, marker: str) -> dict[str, set[str]]:
    headers = {"Origin": "http://localhost", "Cookie": f"sessionid={session}"}
    path = push_socket_url(*GROUPS)
    sockets = {
        node: await websockets.connect(f"ws://127.0.0.1:{port}{path}", additional_headers=headers, open_timeout=20)
        for node, port in ports.items()
    }
    try:
        # Accepted means joined: the consumer adds the socket to its groups before accepting.
        for message in pushes_of_every_kind(marker):
            await asyncio.to_thread(push_send, group=_group_of(message), message=message)
        received = await asyncio.gather(*(frames_receive(socket, marker) for socket in sockets.values()))
        return dict(zip(sockets, received, strict=True))
    finally:
        for socket in sockets.values():
            await socket.close()


def _group_of(message: PushMessage) -> str:
    return {
        "live.events": LIVE_EVENTS_GROUP,
        "lag.sampled": LAG_GROUP,
        "rebuild.progress": REBUILD_GROUP,
        "read_model.changed": READ_MODEL_GROUP,
    }[message["type"]]


def test_a_viewer_on_either_of_two_web_processes_gets_every_live_push(stack: PipelineStack) -> None:
    for instance, _ in enumerate(NODES, start=1):
        stack.start("web", instance=instance)
    ports = {node: stack.port(node) for node in NODES}
    for node, port in ports.items():
        port_wait(port, timeout=60, process=stack.processes[node].popen)
    session = client_for(user_with_role("webnodes", "viewer")).cookies["sessionid"].value

    received = asyncio.run(pushes_received_on_each_node(ports=ports, session=session, marker=uuid.uuid4().hex[:12]))

    every_kind = {"live.events", "lag.sampled", "rebuild.progress", "read_model.changed"}
    assert received == dict.fromkeys(NODES, every_kind), f"{received}\n{stack.log_tail()}"
