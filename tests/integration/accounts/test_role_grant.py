"""A role given by code is in the audit log, once, with why; a service user cannot log in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from apps.accounts.models import AuditLog
from apps.accounts.roles import (
    OPERATOR_GROUP,
    VIEWER_GROUP,
    service_user_ensure,
    user_is_operator,
    user_role_grant,
)

pytestmark = pytest.mark.django_db


def test_a_service_users_role_is_granted_once_and_the_grant_is_audited_with_its_reason() -> None:
    first = service_user_ensure(username="svc-sim", role=OPERATOR_GROUP, reason="it switches failure rules")
    again = service_user_ensure(username="svc-sim", role=OPERATOR_GROUP, reason="it switches failure rules")

    assert first.pk == again.pk and user_is_operator(again)
    assert not again.has_usable_password()
    entries = list(AuditLog.objects.filter(action="role.grant").values("actor", "target", "parameters", "detail"))
    assert entries == [
        {
            "actor": "system",
            "target": "user:svc-sim",
            "parameters": {"role": OPERATOR_GROUP},
            "detail": "it switches failure rules",
        }
    ]


def test_granting_a_role_the_user_already_has_changes_and_records_nothing() -> None:
    user = User.objects.create_user(username="vic")

    granted = user_role_grant(user=user, role=VIEWER_GROUP, granted_by="system", reason="first")
    repeated = user_role_grant(user=user, role=VIEWER_GROUP, granted_by="system", reason="second")

    assert (granted, repeated) == (True, False)
    assert list(AuditLog.objects.filter(action="role.grant").values_list("detail", flat=True)) == ["first"]
