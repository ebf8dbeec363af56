"""A page's bad query parameter or path segment is a 400 that names it, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from tests.integration.console.conftest import HostileOrder


@pytest.mark.parametrize("value", ["%C2%B2", "%E0%A5%A8", "%EF%BC%91", "-1", "1.5", "ten", str(2**70)])
@pytest.mark.parametrize(("page", "name"), [("stream", "after"), ("stream", "before"), ("stream", "v"), ("state", "v")])
def test_a_paging_or_version_parameter_that_is_not_a_whole_number_is_400_naming_it(
    viewer_client: Client, hostile_order: HostileOrder, page: str, name: str, value: str
) -> None:
    response = viewer_client.get(f"/aggregates/{page}/{quote(hostile_order.stream_id)}?{name}={value}")
    assert response.status_code == 400, response.content
    assert f"?{name}=" in response.content.decode()


def test_ascii_digits_still_select_a_version(viewer_client: Client, hostile_order: HostileOrder) -> None:
    response = viewer_client.get(f"/aggregates/state/{quote(hostile_order.stream_id)}?v=1", headers={"HX-Request": "1"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/aggregates/?q=a%00", "?q="),
        ("/aggregates/?type=%01", "?type="),
        ("/aggregates/?customer=c%00", "?customer="),
        ("/trace/?correlation_id=%00", "?correlation_id="),
        ("/aggregates/stream/order-%00", "stream id"),
        ("/aggregates/state/order-%1b", "stream id"),
    ],
)
def test_a_control_character_in_a_page_parameter_or_path_is_400_naming_it(
    viewer_client: Client, url: str, name: str
) -> None:
    response = viewer_client.get(url)
    assert response.status_code == 400, response.content
    body = response.content.decode()
    assert name in body and "control characters" in body


def test_more_query_parameters_than_django_reads_is_400_not_500(viewer_client: Client) -> None:
    query = "&".join(f"p{i}=1" for i in range(1001))
    assert viewer_client.get(f"/aggregates/?{query}").status_code == 400
