"""The rows one batch reads and writes: loaded in one query per table, written in one upsert.

A projector never touches the database itself. It asks the :class:`RowSet` to load the
rows its events will need, changes them in memory event by event, and the row set writes
the changed rows back with one ``INSERT ... ON CONFLICT DO UPDATE`` per table. The same
projector code therefore serves the live consumer and a rebuild into shadow tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from django.db import connections
from django.db.models import Model

from apps.eventstore.store import store_cursor

Row = dict[str, Any]
# SQLite refuses statements with more than 999 parameters (Django's limit for it).
_SQLITE_CHUNK = 900


class RowSet:
    """In-memory rows keyed by (read model, primary key), backed by the tables in ``physical``.

    ``physical`` maps each read model to the model class whose table holds its rows: the
    model itself for the live tables, a shadow model during a rebuild.
    """

    def __init__(self, physical: Mapping[type[Model], type[Model]], *, using: str = "default") -> None:
        self._physical = physical
        self._using = using
        self._rows: dict[type[Model], dict[Any, Row | None]] = {model: {} for model in physical}
        self._dirty: dict[type[Model], set[Any]] = {model: set() for model in physical}

    def load(self, model: type[Model], keys: Iterable[Any]) -> None:
        """Fetch the rows of ``model`` with these primary keys (one query); unknown keys load as absent."""
        known = self._rows[model]
        missing = [key for key in set(keys) if key not in known]
        if not missing:
            return
        for key in missing:
            known[key] = None
        table = self._physical[model]
        pk_name = model._meta.pk.attname
        connection = connections[self._using]
        if connection.vendor == "postgresql":
            for row in _postgres_rows_select(table, missing, using=self._using):
                known[row[pk_name]] = row
            return
        columns = [field.attname for field in model._meta.concrete_fields]
        manager = table._default_manager.using(self._using)
        for start in range(0, len(missing), _SQLITE_CHUNK):
            for values in manager.filter(pk__in=missing[start : start + _SQLITE_CHUNK]).values_list(*columns):
                row = dict(zip(columns, values, strict=True))
                known[row[pk_name]] = row

    def get(self, model: type[Model], key: Any) -> Row | None:
        """The row, as loaded or as changed so far in this batch; None when there is none.

        Raises KeyError for a key that was never loaded: the projector forgot to ask for it.
        """
        return self._rows[model][key]

    def put(self, model: type[Model], key: Any, row: Row) -> None:
        """Set the row (a dict with every column) and mark it for writing."""
        self._rows[model][key] = row
        self._dirty[model].add(key)

    def write(self) -> int:
        """Write every changed row back, one upsert per table; returns the number of rows written."""
        written = 0
        for model, keys in self._dirty.items():
            if not keys:
                continue
            rows = [row for key in keys if (row := self._rows[model][key]) is not None]
            table_upsert(
                model=self._physical[model], conflict=[str(model._meta.pk.column)], rows=rows, using=self._using
            )
            written += len(keys)
            keys.clear()
        return written


def table_upsert(*, model: type[Model], conflict: Sequence[str], rows: Sequence[Row], using: str = "default") -> None:
    """Insert ``rows`` (dicts keyed by field attname) into the model's table, replacing on ``conflict``.

    PostgreSQL gets one ``INSERT ... SELECT FROM json_populate_recordset(...)`` whatever the
    row count; other vendors a parameterised statement per row. Keys must be unique within ``rows``.
    """
    if not rows:
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = list(model._meta.concrete_fields)
    names = [str(field.column) for field in fields]
    updates = [name for name in names if name not in conflict] or names[:1]
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(name) for name in names)}) "
    tail = f" ON CONFLICT ({', '.join(quote(name) for name in conflict)}) DO UPDATE SET " + ", ".join(
        f"{quote(name)} = EXCLUDED.{quote(name)}" for name in updates
    )
    with store_cursor(using) as cursor:
        if connection.vendor == "postgresql":
            # One JSON document for all rows: psycopg would otherwise quote every array element in Python.
            renamed = [(field.attname, str(field.column)) for field in fields if field.attname != field.column]
            documents = rows if not renamed else [_renamed(row, renamed) for row in rows]
            body = orjson.dumps(documents).decode()
            columns = ", ".join(quote(name) for name in names)
            table = quote(model._meta.db_table)
            cursor.execute(f"{head}SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s){tail}", [body])
        else:
            adapt = [field.get_db_prep_save for field in fields]
            placeholders = ", ".join(["%s"] * len(fields))
            attnames = [field.attname for field in fields]
            prepared = [
                [prep(row[attname], connection) for prep, attname in zip(adapt, attnames, strict=True)] for row in rows
            ]
            cursor.executemany(f"{head}VALUES ({placeholders}){tail}", prepared)


def _renamed(row: Row, renamed: list[tuple[str, str]]) -> Row:
    document = dict(row)
    for attname, column in renamed:
        document[column] = document.pop(attname)
    return document


def _postgres_rows_select(table: type[Model], keys: list[Any], *, using: str) -> list[Row]:
    """The rows with these primary keys, fetched as one JSON document (cheaper than typed columns)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    pk = table._meta.pk
    pk_type = str(pk.db_type(connection)).split("(")[0]
    with store_cursor(using) as cursor:
        cursor.execute(
            f"SELECT coalesce(json_agg(t), '[]')::text FROM {quote(table._meta.db_table)} t"
            f" WHERE {quote(str(pk.column))} = ANY(%s::{pk_type}[])",
            [array_literal(keys)],
        )
        rows: list[Row] = orjson.loads(cursor.fetchone()[0])
    fields = table._meta.concrete_fields
    datetimes = [str(field.column) for field in fields if field.get_internal_type() == "DateTimeField"]
    renamed = [(str(field.column), field.attname) for field in fields if field.column != field.attname]
    parse = dt.datetime.fromisoformat
    for row in rows:
        for column in datetimes:
            if row[column] is not None:
                row[column] = parse(row[column])
        for column, attname in renamed:
            row[attname] = row.pop(column)
    return rows


def array_literal(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of ``values`` (strings, numbers, datetimes), to pass as one parameter.

    psycopg quotes a Python list element by element in Python; one string is far cheaper,
    and unlike a JSON set the planner still sees a constant array it can estimate.
    """
    items = []
    for value in values:
        text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
        items.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"
