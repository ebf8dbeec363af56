"""Test settings: PostgreSQL by default (DATABASE_URL), plus a SQLite alias for the store's contract tests."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eda_console")

from eda_console.settings import *  # noqa: F403
from eda_console.settings import DATABASES, VAR_DIR

DATABASES["sqlite"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": str(VAR_DIR / "contract.sqlite3"),
    "OPTIONS": {"transaction_mode": "IMMEDIATE"},
    "TEST": {"NAME": str(VAR_DIR / "test-contract.sqlite3")},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
