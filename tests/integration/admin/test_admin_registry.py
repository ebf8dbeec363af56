"""Every model is in the admin, stored events and read models read-only, and dead-letter actions audited."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.eventstore.store import append_to_stream
from apps.eventstore.types import NO_STREAM
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.projections.models import OrderSummary, ProjectionRebuild, StockLevel
from tests.integration.eventstore.contract import new_event

pytestmark = pytest.mark.django_db

ADMIN_APPS = ("eventstore", "accounts", "messaging", "projections")
READ_ONLY_APPS = ("eventstore", "projections")


def _models(app_label: str) -> list[type[Model]]:
    return [model for model in apps.get_app_config(app_label).get_models() if not model._meta.is_composite_pk]


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-root")


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def parked(*, pk_offset: int, stream_id: str = "order-a") -> DeadLetter:
    now = timezone.now()
    return DeadLetter.objects.create(
        group_id="projection.order_summary",
        position=pk_offset,
        stream_id=stream_id,
        event_type="OrderPlaced",
        topic="order-events",
        partition=0,
        offset=pk_offset,
        error_class="ValueError",
        error_message="boom",
        attempts=3,
        first_failed_at=now,
        last_failed_at=now,
    )


def test_every_model_of_the_four_apps_is_registered_and_its_list_renders(staff_client: Client) -> None:
    for app_label in ADMIN_APPS:
        for model in _models(app_label):
            assert admin.site.is_registered(model), model
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            assert staff_client.get(url).status_code == 200, url


def test_stored_events_and_read_models_cannot_be_added_changed_or_deleted_from_the_admin() -> None:
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    for app_label in READ_ONLY_APPS:
        for model in _models(app_label):
            model_admin: admin.ModelAdmin[Model] = admin.site.get_model_admin(model)
            assert not model_admin.has_add_permission(request), model
            assert not model_admin.has_change_permission(request), model
            assert not model_admin.has_delete_permission(request), model
            assert "delete_selected" not in model_admin.get_actions(request), model


def test_a_read_model_row_cannot_be_deleted_by_a_forged_post(staff_client: Client) -> None:
    now = timezone.now()
    StockLevel.objects.create(sku="sku-1", on_hand=5, reserved=1, updated_at=now)

    response = staff_client.post(reverse("admin:projections_stocklevel_delete", args=["sku-1"]), {"post": "yes"})

    assert response.status_code == 403
    assert StockLevel.objects.filter(sku="sku-1").exists()
    assert not OrderSummary.objects.exists()


def test_skipping_dead_letters_from_the_admin_asks_a_reason_and_goes_through_the_audited_service(
    staff_client: Client,
) -> None:
    first, second = parked(pk_offset=1, stream_id="order-a"), parked(pk_offset=2, stream_id="order-b")
    url = reverse("admin:messaging_deadletter_changelist")
    selected = {"action": "skip_selected", "_selected_action": [first.pk, second.pk]}

    asked = staff_client.post(url, {**selected, "index": "0"})
    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()

    done = staff_client.post(url, {**selected, "apply": "1", "reason": "bad test data"})

    assert done.status_code == 302
    assert set(DeadLetter.objects.values_list("status", flat=True)) == {DeadLetterStatus.SKIPPED}
    entries = AuditLog.objects.filter(action="dead_letter.skip")
    assert entries.count() == 2
    assert {entry.actor for entry in entries} == {"root"} and {e.outcome for e in entries} == {"ok"}


def test_a_staff_user_without_the_operator_role_is_refused_by_the_service_and_audited() -> None:
    user = User.objects.create_user("stan", password="pw", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    user.user_permissions.add(Permission.objects.get(codename="view_deadletter"))
    client = Client()
    client.force_login(user)
    dead_letter = parked(pk_offset=1)

    client.post(
        reverse("admin:messaging_deadletter_changelist"),
        {"action": "skip_selected", "_selected_action": [dead_letter.pk], "apply": "1", "reason": "x"},
    )

    dead_letter.refresh_from_db()
    assert dead_letter.status == DeadLetterStatus.PARKED
    assert AuditLog.objects.get(action="dead_letter.skip").outcome == "refused"


def test_admin_and_console_link_to_each_other(staff_client: Client) -> None:
    append_to_stream(
        stream_id="order-linked", stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
    )
    stream_page = staff_client.get("/aggregates/stream/order-linked").content.decode()
    admin_url = reverse("admin:eventstore_eventstream_change", args=["order-linked"])
    assert f'href="{admin_url}"' in stream_page

    change_page = staff_client.get(admin_url).content.decode()
    assert 'href="/aggregates/stream/order-linked"' in change_page

    job = ProjectionRebuild.objects.create(projection="stock_level", requested_by="root")
    rebuild_page = staff_client.get(reverse("admin:projections_projectionrebuild_change", args=[job.pk]))
    assert 'href="/projections/"' in rebuild_page.content.decode()
    assert (
        reverse("admin:projections_projectionrebuild_change", args=[job.pk])
        in staff_client.get("/projections/").content.decode()
    )
