"""Shadow tables for blue/green rebuilds, the swap that puts one in place, and content digests.

A rebuild writes into ``<table>__shadow``, created unlogged with its primary key only so
the bulk load stays cheap; before the swap it is made durable and gets the live table's
other indexes. The
swap renames live to ``__old``, shadow to live, drops the old one and gives the new
table's indexes the live names back, so migrations keep finding them. On PostgreSQL all
of it is transactional and readers wait only for the renames.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from typing import Any

import orjson
from django.apps.registry import Apps
from django.db import connections
from django.db.models import Model

_shadow_apps = Apps()
_shadow_models: dict[type[Model], type[Model]] = {}
_INDEX_SQL = re.compile(r'^(CREATE (?:UNIQUE )?INDEX) "?([^"\s]+)"? ON (?:ONLY )?"?([^"\s(]+)"? ?(.*)$', re.S)


def shadow_table_name(model: type[Model]) -> str:
    """The table a rebuild writes ``model``'s rows into."""
    return f"{model._meta.db_table}__shadow"


def shadow_model(model: type[Model]) -> type[Model]:
    """A model class over the shadow table of ``model``: same columns, primary key only."""
    if model not in _shadow_models:
        meta = type("Meta", (), {"db_table": shadow_table_name(model), "app_label": "projections_shadow"})
        meta.apps = _shadow_apps  # type: ignore[attr-defined]
        attrs: dict[str, Any] = {"__module__": __name__, "Meta": meta}
        for field in model._meta.concrete_fields:
            clone: Any = field.clone()
            clone.db_index = False
            attrs[field.name] = clone
        _shadow_models[model] = type(f"{model.__name__}Shadow", (Model,), attrs)
    return _shadow_models[model]


def shadow_tables_create(*, models: Iterable[type[Model]], using: str = "default") -> None:
    """(Re)create empty shadow tables for ``models``, dropping any left by an earlier run."""
    shadow_tables_drop(models=models, using=using)
    connection = connections[using]
    with connection.schema_editor() as editor:
        for model in models:
            editor.create_model(shadow_model(model))
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            shadow = shadow_table_name(model)
            # The bulk load writes no WAL and maintains only the primary key; a crash loses
            # nothing a rebuild cannot redo, and shadow_indexes_create makes it durable.
            cursor.execute(f"ALTER TABLE {quote(shadow)} SET UNLOGGED")
            cursor.execute(
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary",
                [quote(shadow)],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP INDEX {quote(name)}")


def shadow_tables_drop(*, models: Iterable[type[Model]], using: str = "default") -> None:
    """Drop the shadow tables of ``models`` if they exist."""
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(shadow_table_name(model))}")


def shadow_indexes_create(*, models: Iterable[type[Model]], using: str = "default") -> None:
    """Make each shadow table durable and give it the live table's secondary indexes (PostgreSQL).

    Building the indexes once after the bulk load is cheaper than maintaining them during
    it; they get interim names until the swap. On SQLite the swap creates them instead.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            shadow = shadow_table_name(model)
            cursor.execute(f"ALTER TABLE {quote(shadow)} SET LOGGED")
            present = {_signature(sql) for sql in _index_sql(cursor, connection.vendor, shadow).values()}
            for name, sql in _index_sql(cursor, connection.vendor, model._meta.db_table).items():
                if _signature(sql) in present:
                    continue
                interim = f"rb_{hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:20]}"
                cursor.execute(f"DROP INDEX IF EXISTS {quote(interim)}")
                cursor.execute(_rewrite(sql, name=interim, table=quote(shadow)))


def shadow_swap(*, models: Iterable[type[Model]], using: str = "default") -> None:
    """Put each shadow table in place of its live table; call inside the swap transaction."""
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            live = model._meta.db_table
            old = f"{live}__old"
            canonical = _index_sql(cursor, connection.vendor, live)
            cursor.execute(f"DROP TABLE IF EXISTS {quote(old)}")
            cursor.execute(f"ALTER TABLE {quote(live)} RENAME TO {quote(old)}")
            cursor.execute(f"ALTER TABLE {quote(shadow_table_name(model))} RENAME TO {quote(live)}")
            cursor.execute(f"DROP TABLE {quote(old)}")
            if connection.vendor == "postgresql":
                by_signature = {_signature(sql): name for name, sql in canonical.items()}
                for name, sql in _index_sql(cursor, connection.vendor, live).items():
                    wanted = by_signature.get(_signature(sql))
                    if wanted and wanted != name:
                        cursor.execute(f"ALTER INDEX {quote(name)} RENAME TO {quote(wanted)}")
            else:
                for sql in canonical.values():
                    cursor.execute(sql)


def tables_digest(*, tables: Iterable[type[Model]], using: str = "default") -> str:
    """A sha256 over every row of the given model classes' tables, in primary-key order.

    Datetimes are hashed in UTC ISO form, so the digest depends on content alone.
    """
    digest = hashlib.sha256()
    for table in tables:
        columns = [field.attname for field in table._meta.concrete_fields]
        digest.update(orjson.dumps([table._meta.db_table.removesuffix("__shadow"), columns]))
        query = table._default_manager.using(using).order_by("pk").values_list(*columns)
        for row in query.iterator(chunk_size=5000):
            digest.update(orjson.dumps([_canonical(value) for value in row]))
            digest.update(b"\n")
    return digest.hexdigest()


def tables_fingerprint(*, tables: Iterable[type[Model]], using: str = "default") -> str:
    """A sha256 over each table's row count and the sum of its rows' hashes: equal content, equal fingerprint.

    For comparing a shadow with its live table before a swap, where :func:`tables_digest`
    (a Python pass over every row, ~40 µs a row) would add minutes to a rebuild of
    millions. On PostgreSQL each row is hashed in the database (its text form, 64 bits, in
    one session, so both sides format values alike); the sum is order-free. Elsewhere it
    is :func:`tables_digest`.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return tables_digest(tables=tables, using=using)
    quote = connection.ops.quote_name
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for table in tables:
            name = table._meta.db_table
            cursor.execute(f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM {quote(name)} AS t")
            count, total = cursor.fetchone()
            digest.update(orjson.dumps([name.removesuffix("__shadow"), count, str(total)]))
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def _index_sql(cursor: Any, vendor: str, table: str) -> dict[str, str]:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
    else:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
            [table],
        )
    return {name: sql for name, sql in cursor.fetchall()}


def _signature(sql: str) -> tuple[str, str]:
    match = _INDEX_SQL.match(sql)
    if match is None:
        raise ValueError(f"unexpected index definition: {sql}")
    return match.group(1), match.group(4)


def _rewrite(sql: str, *, name: str, table: str) -> str:
    kind, rest = _signature(sql)
    return f"{kind} {name} ON {table} {rest}"
