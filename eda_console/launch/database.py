"""Make sure the PostgreSQL database named by DATABASE_URL exists (``make test`` runs this).

pytest-django creates ``test_<name>`` itself, but connects to ``<name>`` first; creating it
here keeps the run free of the fallback warning and lets ``make bench`` use it directly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import dj_database_url
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/eda_console"
_CONNINFO_FIELDS = {"host": "HOST", "port": "PORT", "user": "USER", "password": "PASSWORD"}


def database_ensure(url: str) -> str:
    """Create the database if it is missing; return what was done."""
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return f"{config['ENGINE']}: nothing to create"
    name = str(config["NAME"])
    params: dict[str, Any] = {key: config.get(field) for key, field in _CONNINFO_FIELDS.items() if config.get(field)}
    conninfo = make_conninfo("", dbname="postgres", connect_timeout=10, **params)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return f"database {name} exists"
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"database {name} created"


def main() -> int:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    try:
        print(f"test-database: {database_ensure(url)}")
    except psycopg.OperationalError as error:
        print(f"test-database: cannot reach PostgreSQL for {url}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
