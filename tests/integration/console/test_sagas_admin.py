"""The sagas in Django's admin: lists that filter and search, an attempt per inline row, links to the
console and back, and admin actions that go through the same audited services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from apps.accounts.models import AuditLog
from apps.sagas.models import SagaInstance
from tests.integration.console.test_sagas import STUCK, _completed, _declined, _stuck
from tests.support.saga_rows import saga_row_create

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/sagas/sagainstance/"


def _admin_client(*, role: str) -> Client:
    if role == "operator":
        user = User.objects.create_superuser("admin-operator", "operator@example.com", "pw-for-tests")
    else:
        # Staff who may look at sagas in the admin, without the operator role (a superuser has it).
        user = User.objects.create_user("staff-viewer", password="pw-for-tests", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="view_sagainstance"))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = Client()
    client.force_login(user)
    return client


def test_the_saga_list_filters_by_status_searches_by_order_and_links_to_the_console() -> None:
    client = _admin_client(role="operator")
    stuck, declined = _stuck(), _declined()

    html = client.get(CHANGELIST).content.decode()
    assert "o-stuck" in html and "o-declined" in html
    assert f'href="/sagas/{stuck.id}/"' in html
    assert "o-declined" not in client.get(f"{CHANGELIST}?status__exact=stuck").content.decode()
    assert "o-stuck" not in client.get(f"{CHANGELIST}?q=o-declined").content.decode()

    detail = client.get(f"{CHANGELIST}{declined.id}/change/").content.decode()
    assert detail.count("release_stock") >= 1 and f'href="/sagas/{declined.id}/"' in detail
    steps = client.get("/admin/sagas/sagastep/?status__exact=rejected").content.decode()
    assert "declined: amount over the limit" in steps


def test_compensate_in_the_admin_asks_for_a_reason_then_calls_the_audited_service() -> None:
    client = _admin_client(role="operator")
    saga = _stuck()
    form = {"action": "compensate_sagas", "_selected_action": [str(saga.id)]}

    asking = client.post(CHANGELIST, form)
    assert asking.status_code == 200 and 'name="reason"' in asking.content.decode()
    saga.refresh_from_db()
    assert saga.status == "stuck"

    done = client.post(CHANGELIST, {**form, "apply": "1", "reason": "customer asked to cancel"}, follow=True)

    assert "Compensate: 1 saga done." in done.content.decode()
    saga.refresh_from_db()
    assert saga.status == "compensating"
    entry = AuditLog.objects.get(action="saga.compensate", target=f"saga:{saga.id}")
    assert entry.outcome == "ok" and entry.parameters["reason"] == "customer asked to cancel"


def test_an_admin_action_that_does_not_apply_or_a_user_without_the_operator_role_is_a_message() -> None:
    completed = _completed()
    client = _admin_client(role="operator")

    refused = client.post(CHANGELIST, {"action": "retry_sagas", "_selected_action": [str(completed.id)]}, follow=True)
    assert "Retry refused for o-done" in refused.content.decode()

    stuck = _stuck()
    viewer = _admin_client(role="viewer")
    forbidden = viewer.post(CHANGELIST, {"action": "resume_sagas", "_selected_action": [str(stuck.id)]}, follow=True)
    assert "Resume refused for o-stuck" in forbidden.content.decode()
    stuck.refresh_from_db()
    assert stuck.status == "stuck"
    assert not AuditLog.objects.filter(action="saga.resume", outcome="ok").exists()


def test_an_admin_action_on_more_sagas_than_the_bulk_limit_is_refused_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("apps.sagas.admin.BULK_LIMIT", 1)
    stuck = [
        saga_row_create(order_id=f"o-bulk-{index}", status="stuck", attempts=STUCK, current_step="authorize_payment")
        for index in range(2)
    ]
    client = _admin_client(role="operator")
    selected = [str(saga.id) for saga in stuck]

    resumed = client.post(CHANGELIST, {"action": "resume_sagas", "_selected_action": selected}, follow=True)
    compensated = client.post(
        CHANGELIST,
        {"action": "compensate_sagas", "_selected_action": selected, "apply": "1", "reason": "too many"},
        follow=True,
    )

    for response in (resumed, compensated):
        assert "2 sagas selected, at most 1 per action; nothing was done" in response.content.decode()
    assert not AuditLog.objects.filter(action__startswith="saga.").exists()
    assert set(SagaInstance.objects.filter(pk__in=[s.pk for s in stuck]).values_list("status", flat=True)) == {"stuck"}
