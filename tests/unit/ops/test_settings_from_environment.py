"""Settings come from the environment: what a deployment sets is what the processes run with."""

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]

_PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"), "port": db.get("PORT"),
    "user": db.get("USER"), "password": db.get("PASSWORD"),
    "redis_url": settings.REDIS_URL, "kafka": settings.KAFKA_BOOTSTRAP_SERVERS,
    "secret_key": settings.SECRET_KEY, "debug": settings.DEBUG, "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""

_NAMES = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")


def _settings_with(env: dict[str, str]) -> dict[str, object]:
    base = {key: value for key, value in os.environ.items() if key not in _NAMES}
    base["DJANGO_SETTINGS_MODULE"] = "eda_console.settings"
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=PROJECT_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_read_every_service_and_security_variable():
    seen = _settings_with(
        {
            "DATABASE_URL": "postgres://app:s3cret@db.internal:6543/orders",
            "REDIS_URL": "redis://cache.internal:6380/4",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092, kafka-2:9092",
            "SECRET_KEY": "a-real-secret-from-the-environment",
            "DEBUG": "true",
            "ALLOWED_HOSTS": "console.example.com, .internal",
        }
    )

    assert seen == {
        "engine": "django.db.backends.postgresql",
        "name": "orders",
        "host": "db.internal",
        "port": 6543,
        "user": "app",
        "password": "s3cret",
        "redis_url": "redis://cache.internal:6380/4",
        "kafka": ["kafka-1:9092", "kafka-2:9092"],
        "secret_key": "a-real-secret-from-the-environment",
        "debug": True,
        "allowed_hosts": ["console.example.com", ".internal"],
    }


def test_without_a_database_url_the_console_uses_a_sqlite_file_in_the_var_directory(tmp_path):
    seen = _settings_with({"EDA_VAR_DIR": str(tmp_path), "DEBUG": "0"})

    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["name"] == str(tmp_path / "eda.sqlite3")
    assert seen["debug"] is False


def test_a_setting_that_is_not_of_its_type_stops_the_process_naming_the_variable():
    environ = {key: value for key, value in os.environ.items() if key not in _NAMES}
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=PROJECT_DIR,
        env={**environ, "DJANGO_SETTINGS_MODULE": "eda_console.settings", "RELAY_BATCH_SIZE": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: RELAY_BATCH_SIZE must be an integer, got 'lots'" in result.stderr


_PRINT_PREPARE = """
import json
from django.conf import settings
print(json.dumps(settings.DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold", "absent")))
"""


def _prepare_threshold_with(env: dict[str, str]) -> object:
    base = {key: value for key, value in os.environ.items() if key not in (*_NAMES, "DATABASE_PREPARE_THRESHOLD")}
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_PREPARE],
        cwd=PROJECT_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "eda_console.settings", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgresql_statements_are_prepared_after_five_runs_unless_the_threshold_is_set_or_zero(tmp_path):
    postgres = {"DATABASE_URL": "postgres://app@db.internal:5432/orders"}

    assert _prepare_threshold_with(postgres) == 5
    assert _prepare_threshold_with({**postgres, "DATABASE_PREPARE_THRESHOLD": "2"}) == 2
    assert _prepare_threshold_with({**postgres, "DATABASE_PREPARE_THRESHOLD": "0"}) is None  # never: a pooler's choice
    assert _prepare_threshold_with({"EDA_VAR_DIR": str(tmp_path)}) == "absent"  # SQLite prepares on its own
