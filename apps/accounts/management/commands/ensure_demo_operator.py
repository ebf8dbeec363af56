from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.accounts.demo import demo_users_ensure
from apps.accounts.roles import OPERATOR_GROUP, VIEWER_GROUP

DEMO_USERS = {"demo": OPERATOR_GROUP, "viewer-demo": VIEWER_GROUP}
# The operator may also look at the stored data in the Django admin (view only).
DEMO_ADMIN_VIEWERS = ("demo",)


class Command(BaseCommand):
    help = (
        "Create (or keep) the demo operator 'demo' and viewer 'viewer-demo' and print their credentials; "
        "passwords live in VAR_DIR/demo-credentials.txt and are reused on later runs. "
        "'demo' may also browse the data in the Django admin, read-only."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.VAR_DIR / "demo-credentials.txt"
        credentials = demo_users_ensure(users=DEMO_USERS, credentials_path=path, admin_viewers=DEMO_ADMIN_VIEWERS)
        for username, role in DEMO_USERS.items():
            self.stdout.write(f"{role:<8}  username: {username:<12}  password: {credentials[username]}")
        self.stdout.write(
            f"(kept in {path}; {', '.join(DEMO_ADMIN_VIEWERS)} may also browse the data at /admin/, read-only)"
        )
