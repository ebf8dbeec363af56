"""Role checks that need no database: anonymous, inactive and superusers."""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser

from apps.accounts.roles import user_is_operator, user_is_viewer


def test_anonymous_and_missing_users_have_no_role() -> None:
    for user in (AnonymousUser(), None):
        assert not user_is_viewer(user)
        assert not user_is_operator(user)


def test_superuser_is_viewer_and_operator() -> None:
    root = SimpleNamespace(is_authenticated=True, is_active=True, is_superuser=True)
    assert user_is_viewer(root) and user_is_operator(root)


def test_inactive_superuser_has_no_role() -> None:
    root = SimpleNamespace(is_authenticated=True, is_active=False, is_superuser=True)
    assert not user_is_viewer(root) and not user_is_operator(root)
