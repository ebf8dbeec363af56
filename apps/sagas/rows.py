"""The saga tables' reads and writes of every transition, each statement built once per process.

``Model.save(update_fields=...)``, ``bulk_create`` and ``Model.objects.raw`` compile or
introspect on every call; for the handful of rows a saga transition touches, that cost the
step tasks and the consumer more client CPU than PostgreSQL spent running the statements
(py-spy under ``bench.sagas``). These build the statement once per model, columns and
database vendor, adapt each value with its field's own ``get_db_prep_save`` and convert each
column read with the converters the ORM would apply, so a row holds, and a read returns,
exactly what the ORM would, on PostgreSQL and on the embedded SQLite alike. No signal is
sent: the saga models have no receivers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]

# SQLite refuses statements with more than 999 parameters; a saga inserts a few rows at a time.
_INSERT_CHUNK = 30


def _quoted(field: Field) -> str:
    assert field.column is not None  # a concrete field always has its column
    return connection.ops.quote_name(field.column)


@cache
def _update_statement(model: type[Model], columns: tuple[str, ...], vendor: str) -> tuple[str, tuple[Field, ...]]:
    opts = model._meta
    fields = tuple(cast(Field, opts.get_field(name)) for name in columns)
    sets = ", ".join(f"{_quoted(field)} = %s" for field in fields)
    return f"UPDATE {connection.ops.quote_name(opts.db_table)} SET {sets} WHERE {_quoted(opts.pk)} = %s", fields


def row_update(row: Model, columns: Sequence[str]) -> None:
    """Write ``columns`` of the saved ``row`` (``row.save(update_fields=columns)``, compiled once).

    Raises DatabaseError when no row has that primary key, as ``save`` does.
    """
    sql, fields = _update_statement(type(row), tuple(columns), connection.vendor)
    params = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
    params.append(row._meta.pk.get_db_prep_value(row.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:
            raise DatabaseError(f"{type(row).__name__} {row.pk}: no row to update")


@cache
def _insert_statement(model: type[Model], count: int, vendor: str) -> tuple[str, tuple[Field, ...], Field | None]:
    opts = model._meta
    generated = opts.pk if opts.pk.db_returning else None
    fields = tuple(field for field in opts.concrete_fields if field is not generated)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(_quoted(field) for field in fields)
    sql = f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({columns}) VALUES {', '.join([one] * count)}"
    if generated is not None:
        sql += f" RETURNING {_quoted(generated)}"
    return sql, fields, generated


def rows_insert(rows: Sequence[Model]) -> None:
    """Insert ``rows``, new instances of one model, and set their generated keys (``bulk_create``, compiled once)."""
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        sql, fields, generated = _insert_statement(type(chunk[0]), len(chunk), connection.vendor)
        params: list[Any] = []
        for row in chunk:
            params.extend(field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            keys = cursor.fetchall() if generated is not None else []
        # The keys come back in the order of VALUES, as bulk_create relies on too.
        for index, row in enumerate(chunk):
            if generated is not None:
                setattr(row, generated.attname, keys[index][0])
            row._state.adding = False
            row._state.db = connection.alias


@cache
def _select_head(model: type[Model], vendor: str) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    return f"SELECT {', '.join(f'{table}.{_quoted(field)}' for field in model._meta.concrete_fields)} FROM {table}"


def select_sql(model: type[Model], rest: str) -> str:
    """``SELECT <every column, in field order> FROM <the table> <rest>``: a statement for :func:`rows_read`."""
    return f"{_select_head(model, connection.vendor)} {rest}"


# Per connection (they are per thread): the backend's converters are methods of its operations.
_converters: WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], list[tuple[int, Any, list[Converter]]]]] = (
    WeakKeyDictionary()
)


def _converters_of(wrapper: BaseDatabaseWrapper, model: type[Model]) -> list[tuple[int, Any, list[Converter]]]:
    known = _converters.setdefault(wrapper, {})
    if model not in known:
        found = []
        for index, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            converters = wrapper.ops.get_db_converters(column) + column.get_db_converters(wrapper)
            if converters:
                found.append((index, column, converters))
        known[model] = found
    return known[model]


def rows_read(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """The instances of ``model`` that ``sql`` (from :func:`select_sql`) returns, as ``model.objects.raw`` would."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    converters = _converters_of(wrapper, model)
    with wrapper.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        values = list(row)
        for index, column, functions in converters:
            for function in functions:
                values[index] = function(values[index], column, wrapper)
        found.append(model.from_db(DEFAULT_DB_ALIAS, (), values))  # every column: the names are not needed
    return found
