"""A saga page's socket names its saga in the URL: it gets that saga's changes as the page's parts, and
nothing of the other sagas'."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async

from apps.console.push_renderers import push_socket_url
from apps.messaging.push import SAGAS_GROUP, SagaChanged, push_send_async
from tests.integration.console.conftest import socket_connect, sockets_isolated, user_with_role
from tests.integration.console.test_sagas import _declined, _stuck

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def _sockets_isolated() -> AsyncIterator[None]:
    async with sockets_isolated():
        yield


async def test_a_saga_page_socket_gets_its_sagas_parts_and_nothing_of_another_saga() -> None:
    stuck, declined = await sync_to_async(_stuck)(), await sync_to_async(_declined)()
    viewer = await sync_to_async(user_with_role)("victor", "viewer")
    communicator, connected = await socket_connect(push_socket_url(SAGAS_GROUP, saga_id=str(stuck.id)), viewer)
    assert connected

    other = SagaChanged(type="saga.changed", saga_id=str(declined.id), status="compensated")
    await push_send_async(group=SAGAS_GROUP, message=other)
    assert await communicator.receive_nothing(timeout=1)

    mine = SagaChanged(type="saga.changed", saga_id=str(stuck.id), status="stuck")
    await push_send_async(group=SAGAS_GROUP, message=mine)
    html = await communicator.receive_from(timeout=5)

    assert html.startswith('<div id="saga-condition" class="saga-condition" hx-swap-oob="true">')
    assert 'id="saga-timeline-figure" class="figure-data"' in html and 'id="saga-steps" hx-swap-oob="true"' in html
    assert "payment outcome unknown" in html and "o-declined" not in html
    assert "data-action=" not in html  # rendered for a viewer
    await communicator.disconnect()
