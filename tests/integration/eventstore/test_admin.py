"""The admin lists, filters, searches and shows stored events, and can never add, change or delete them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.eventstore.models import EventStream, StoredEvent
from apps.eventstore.store import append_to_stream, head_position
from apps.eventstore.types import NO_STREAM, NewEvent
from tests.integration.eventstore.contract import event_count, new_event
from tests.unit.eventstore.samples import order_placed_v1

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:eventstore_storedevent_changelist"


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests")


@pytest.fixture
def admin_client_for(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def two_orders() -> dict[str, str]:
    correlation = str(uuid.uuid4())
    first, second = f"order-{uuid.uuid4()}", f"order-{uuid.uuid4()}"
    append_to_stream(
        stream_id=first,
        stream_type="order",
        expected_version=NO_STREAM,
        events=[new_event("OrderPlaced", correlation_id=correlation), new_event("OrderConfirmed")],
    )
    append_to_stream(
        stream_id=second,
        stream_type="order",
        expected_version=NO_STREAM,
        events=[NewEvent("OrderPlaced", order_placed_v1(), {"correlation_id": correlation}, schema_version=1)],
    )
    return {"first": first, "second": second, "correlation": correlation}


def _listed(client: Client, **params: str) -> list[int]:
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return sorted(event.position for event in response.context["cl"].result_list)


def _positions(**filters: object) -> list[int]:
    return sorted(StoredEvent.objects.filter(**filters).values_list("position", flat=True))


def test_both_models_are_registered_read_only() -> None:
    for model in (StoredEvent, EventStream):
        assert admin.site.is_registered(model)
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    for model in (StoredEvent, EventStream):
        model_admin = admin.site.get_model_admin(model)
        assert model_admin.has_add_permission(request) is False
        assert model_admin.has_change_permission(request) is False
        assert model_admin.has_delete_permission(request) is False
        assert model_admin.has_view_permission(request) is True
        assert "delete_selected" not in model_admin.get_actions(request)


def test_the_changelist_shows_events_newest_first(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    response = admin_client_for.get(reverse(CHANGELIST))
    assert response.status_code == 200
    listed = [event.position for event in response.context["cl"].result_list]
    assert listed == sorted(_positions(), reverse=True)
    content = response.content.decode()
    assert two_orders["first"] in content and "OrderConfirmed" in content
    assert 'name="action"' not in content
    assert "Add stored event" not in content


def test_filter_by_stream_id(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    assert _listed(admin_client_for, stream_id=two_orders["first"]) == _positions(stream_id=two_orders["first"])
    assert len(_positions(stream_id=two_orders["first"])) == 2


def test_filter_by_event_type(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    assert _listed(admin_client_for, event_type="OrderConfirmed") == _positions(event_type="OrderConfirmed")
    content = admin_client_for.get(reverse(CHANGELIST)).content.decode()
    assert "PaymentRefunded" in content  # choices come from the schema catalogue


def test_filter_by_correlation_id(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    listed = _listed(admin_client_for, correlation_id=two_orders["correlation"])
    assert listed == _positions(correlation_id=two_orders["correlation"])
    assert len(listed) == 2


def test_filter_by_recorded_at(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    now = dt.datetime.now(dt.UTC)
    today = {"recorded_at__gte": (now - dt.timedelta(hours=1)).isoformat()}
    assert _listed(admin_client_for, **today) == _positions()
    future = {"recorded_at__gte": (now + dt.timedelta(days=1)).isoformat()}
    assert _listed(admin_client_for, **future) == []


def test_filters_combine(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    listed = _listed(admin_client_for, correlation_id=two_orders["correlation"], stream_id=two_orders["second"])
    assert listed == _positions(stream_id=two_orders["second"])


def test_search_finds_a_stream_by_its_exact_id(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    assert _listed(admin_client_for, q=two_orders["second"]) == _positions(stream_id=two_orders["second"])


def test_the_detail_view_shows_data_metadata_and_the_upcast_shape(
    admin_client_for: Client, two_orders: dict[str, str]
) -> None:
    (position,) = _positions(stream_id=two_orders["second"])
    response = admin_client_for.get(reverse("admin:eventstore_storedevent_change", args=[position]))
    assert response.status_code == 200
    content = response.content.decode()
    assert two_orders["second"] in content
    assert two_orders["correlation"] in content
    assert "as read, upcast to the current version" in content
    assert "&quot;currency&quot;: &quot;EUR&quot;" in content
    assert 'name="_save"' not in content
    assert "deletelink" not in content


def test_adding_changing_and_deleting_are_forbidden(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    position = _positions(stream_id=two_orders["first"])[0]
    before = list(StoredEvent.objects.values_list().order_by("position"))
    count = event_count("default")

    add = admin_client_for.post(reverse("admin:eventstore_storedevent_add"), {"stream_id": "forged"})
    change = admin_client_for.post(
        reverse("admin:eventstore_storedevent_change", args=[position]), {"event_type": "OrderShipped"}
    )
    delete = admin_client_for.post(reverse("admin:eventstore_storedevent_delete", args=[position]), {"post": "yes"})
    bulk = admin_client_for.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [position], "post": "yes"}
    )

    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in {200, 302}  # no such action: the list is shown again, nothing happens
    assert event_count("default") == count
    assert list(StoredEvent.objects.values_list().order_by("position")) == before


def test_streams_are_listed_and_link_to_their_events(admin_client_for: Client, two_orders: dict[str, str]) -> None:
    response = admin_client_for.get(reverse("admin:eventstore_eventstream_changelist"), {"q": two_orders["first"]})
    assert response.status_code == 200
    assert [s.stream_id for s in response.context["cl"].result_list] == [two_orders["first"]]
    assert f"?stream_id={two_orders['first']}" in response.content.decode()
    stream_change = reverse("admin:eventstore_eventstream_change", args=[two_orders["first"]])
    assert admin_client_for.post(stream_change, {"version": "99"}).status_code == 403
    assert admin_client_for.post(reverse("admin:eventstore_eventstream_add"), {}).status_code == 403
    assert EventStream.objects.get(stream_id=two_orders["first"]).version == 2


def _counts_without_limit(queries: list[dict[str, str]]) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "LIMIT" not in q["sql"].upper()]


@pytest.mark.parametrize(
    ("changelist", "params"),
    [
        (CHANGELIST, {}),
        (CHANGELIST, {"event_type": "OrderConfirmed"}),
        (CHANGELIST, {"_facets": "1"}),
        ("admin:eventstore_eventstream_changelist", {}),
        ("admin:eventstore_eventstream_changelist", {"stream_type": "order"}),
    ],
)
def test_a_changelist_never_counts_a_whole_table(
    admin_client_for: Client, two_orders: dict[str, str], changelist: str, params: dict[str, str]
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_for.get(reverse(changelist), params)
    assert response.status_code == 200
    assert _counts_without_limit(queries.captured_queries) == []


def test_the_unfiltered_event_list_takes_its_size_from_the_head_position(
    admin_client_for: Client, two_orders: dict[str, str]
) -> None:
    response = admin_client_for.get(reverse(CHANGELIST))
    assert response.context["cl"].result_count == head_position()


def test_a_filtered_list_counts_no_further_than_the_cap(
    admin_client_for: Client, two_orders: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("apps.eventstore.admin.COUNT_CAP", 1)
    response = admin_client_for.get(reverse(CHANGELIST), {"event_type": "OrderPlaced"})
    assert len(_positions(event_type="OrderPlaced")) == 2
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("parameter", ["stream_id", "correlation_id"])
def test_a_filter_value_holding_a_nul_is_refused_as_a_bad_filter_not_a_500(
    admin_client_for: Client, two_orders: dict[str, str], parameter: str
) -> None:
    response = admin_client_for.get(f"{reverse(CHANGELIST)}?{parameter}=a%00b")
    # The admin's answer to lookup parameters it cannot use: back to the list, flagged ?e=1.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
