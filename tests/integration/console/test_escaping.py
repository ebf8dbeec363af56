"""Whatever an event carries is shown as text: on every page, in every partial, in every push."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from apps.console.live import live_row_render
from apps.console.selectors.events import correlation_event_list
from tests.integration.console.conftest import CUSTOMER_ID, HostileOrder, assert_no_raw_markup

HTMX = {"HX-Request": "true"}


def _pages(order: HostileOrder) -> list[tuple[str, dict[str, str]]]:
    stream = order.stream_id
    return [
        ("/", {}),
        ("/overview/tiles/", HTMX),
        ("/live/", {}),
        (f"/aggregates/?q={quote('order-x<')}", {}),
        (f"/aggregates/?q={quote('order-x<')}", HTMX),
        (f"/aggregates/?customer={quote(CUSTOMER_ID)}", {}),
        (f"/aggregates/stream/{quote(stream)}", {}),
        (f"/aggregates/stream/{quote(stream)}?after=0", HTMX),
        (f"/aggregates/state/{quote(stream)}?v=1", HTMX),
        (f"/aggregates/state/{quote(stream)}?v=2", HTMX),
        (f"/trace/?correlation_id={quote(order.correlation_id)}", {}),
        ("/consumers/", {}),
        ("/consumers/tables/", HTMX),
    ]


def test_hostile_strings_are_escaped_on_every_page_and_partial(
    viewer_client: Client, hostile_order: HostileOrder
) -> None:
    for path, headers in _pages(hostile_order):
        response = viewer_client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert_no_raw_markup(response.content.decode())


def test_stream_page_shows_the_hostile_strings_as_text(viewer_client: Client, hostile_order: HostileOrder) -> None:
    html = viewer_client.get(f"/aggregates/stream/{quote(hostile_order.stream_id)}").content.decode()
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(6)&lt;/script&gt;" in html
    assert "&lt;b onmouseover=alert(4)&gt;eve&lt;/b&gt;" in html


def test_trace_figure_json_cannot_close_its_script_block(viewer_client: Client, hostile_order: HostileOrder) -> None:
    html = viewer_client.get(f"/trace/?correlation_id={quote(hostile_order.correlation_id)}").content.decode()
    figure = html.split('<script type="application/json" class="figure">', 1)[1].split("</script>", 1)[0]
    assert "<" not in figure
    assert "\\u003C" in figure or "&lt;" in figure or "\\u0026lt;" in figure


@pytest.mark.django_db
def test_pushed_live_row_is_rendered_escaped(hostile_order: HostileOrder) -> None:
    for event in correlation_event_list(correlation_id=hostile_order.correlation_id):
        row = live_row_render(event)
        assert_no_raw_markup(row["html"])
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row["html"]
