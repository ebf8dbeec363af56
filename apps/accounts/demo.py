"""Demo accounts for the run command: passwords kept in a file so later runs reuse them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection
from pathlib import Path

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

# The apps whose data the demo operator may browse in the admin.
ADMIN_VIEW_APP_LABELS = ("eventstore", "messaging", "projections", "accounts")


def _credentials_read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    credentials = {}
    for line in path.read_text().splitlines():
        username, sep, password = line.partition(":")
        if sep and username.strip() and password.strip():
            credentials[username.strip()] = password.strip()
    return credentials


def _credentials_write(path: Path, credentials: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{username}:{password}\n" for username, password in credentials.items())
    # Owner-only from the first byte: the file holds passwords.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def user_admin_view_grant(*, user: User, app_labels: Collection[str]) -> None:
    """Let ``user`` open the Django admin and look at every model of ``app_labels``, nothing more.

    Only ``view_*`` permissions: the admin's add, change and delete stay refused (and the
    event store's ModelAdmins refuse them to everyone anyway).
    """
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    view_permissions = Permission.objects.filter(
        content_type__app_label__in=list(app_labels), codename__startswith="view_"
    )
    user.user_permissions.add(*view_permissions)


def demo_users_ensure(
    *, users: dict[str, str], credentials_path: Path, admin_viewers: Collection[str] = ()
) -> dict[str, str]:
    """Make each ``username -> group`` user exist, active, in its group, with the password on file.

    Returns ``username -> password``. A password already in the file is reused (and
    re-applied, in case the database was reset); a missing one is generated. The users
    named in ``admin_viewers`` may also browse the data in the admin, read-only.
    """
    credentials = _credentials_read(credentials_path)
    with transaction.atomic():
        for username, group_name in users.items():
            password = credentials.setdefault(username, secrets.token_urlsafe(12))
            user, _ = User.objects.get_or_create(username=username)
            if not user.is_active or not user.check_password(password):
                user.is_active = True
                user.set_password(password)
                user.save()
            group, _ = Group.objects.get_or_create(name=group_name)
            user.groups.add(group)
            if username in admin_viewers:
                user_admin_view_grant(user=user, app_labels=ADMIN_VIEW_APP_LABELS)
    _credentials_write(credentials_path, credentials)
    return {username: credentials[username] for username in users}
