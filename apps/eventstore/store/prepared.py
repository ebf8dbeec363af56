"""Prepared statements in autocommit mode on Django's PostgreSQL connection, through libpq: the append's hot path.

An append outside a transaction is two statements: the append, and once it has committed
the NOTIFY that wakes the relay. Here both go out in one libpq pipeline with a sync
after each, so each is its own transaction (the NOTIFY runs only after the append has
committed) and together they cost one round trip instead of two. Calling libpq directly
also skips psycopg's cursor, which cost about three times the client CPU of the call.

Only in autocommit mode: in a transaction psycopg sends the BEGIN before its first
statement, which a call made here would run ahead of. The connection stays non-blocking
as psycopg left it and waits in poll(), which releases the GIL (libpq's own blocking
PQgetResult, called from Python, would hold it). A statement is prepared in the same
round trip as its first call, under a name of its own (psycopg's are ``_pg3_*``). Being
no cursor's, these statements are not in ``connection.queries`` and skip Django's
``execute_wrappers``.
"""

from __future__ import annotations

import select
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.transaction import TransactionManagementError
from psycopg import OperationalError, pq
from psycopg.errors import PipelineAborted, error_from_result

Params = Sequence[bytes | None] | None
# The rows of a statement (values as text, None for NULL), or the error it raised.
Outcome = list[tuple[bytes | None, ...]] | Exception

_ENCODING = "utf-8"  # Django sets client_encoding to UTF8 on every PostgreSQL connection.
_UNDEFINED_PREPARED_STATEMENT = "26000"

# Per psycopg connection: the names prepared on it. A new connection starts empty.
_prepared_names: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PreparedStatement:
    """A statement with ``$1``-style parameters, prepared under ``name`` on first use."""

    name: bytes
    text: bytes


def connection_checked(connection: Any) -> None:
    """What Django's cursor checks before every statement, for code that talks to psycopg or libpq itself.

    The connection is open and healthy (``CONN_HEALTH_CHECKS``), this thread may use it, and
    its transaction is not one an error has already broken.
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()


def prepared_pipeline(
    connection: Any, calls: Sequence[tuple[PreparedStatement, Params]], *, _retried: bool = False
) -> list[Outcome]:
    """Run ``calls`` in order on the Django ``connection`` in one round trip; one outcome per call.

    Each call is followed by a sync, so each one commits (or fails) on its own before the
    next runs. A statement's error is returned (a psycopg error), not raised, so that the
    caller decides what the failure of each call means; anything else raises as Django's
    cursors do (``django.db.DatabaseError`` and subclasses).
    """
    connection_checked(connection)
    raw = connection.connection
    if not raw.autocommit:
        raise TransactionManagementError("prepared_pipeline runs only in autocommit mode")
    names = _prepared_names.setdefault(raw, set())
    to_prepare = list({statement.name: statement for statement, _ in calls if statement.name not in names}.values())
    with connection.wrap_database_errors, raw.lock:
        outcomes = _pipeline(raw, to_prepare, calls)
    for statement, outcome in zip(to_prepare, outcomes, strict=False):
        if isinstance(outcome, Exception):
            with connection.wrap_database_errors:
                raise outcome
        names.add(statement.name)
    outcomes = outcomes[len(to_prepare) :]
    # A DEALLOCATE ALL or DISCARD ALL (psycopg runs one at a rollback once it has prepared
    # statements of its own; poolers run them) dropped a statement: prepare it again and
    # run the calls it failed, which did nothing, once more.
    lost = [index for index, outcome in enumerate(outcomes) if _undefined(outcome)]
    if lost and not _retried:
        names.difference_update(calls[index][0].name for index in lost)
        again = prepared_pipeline(connection, [calls[index] for index in lost], _retried=True)
        for index, outcome in zip(lost, again, strict=True):
            outcomes[index] = outcome
    return outcomes


def _undefined(outcome: Outcome) -> bool:
    return isinstance(outcome, Exception) and getattr(outcome, "sqlstate", None) == _UNDEFINED_PREPARED_STATEMENT


def _pipeline(
    raw: Any, to_prepare: list[PreparedStatement], calls: Sequence[tuple[PreparedStatement, Params]]
) -> list[Outcome]:
    pgconn = raw.pgconn
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    try:
        pgconn.enter_pipeline_mode()
        for statement in to_prepare:
            pgconn.send_prepare(statement.name, statement.text)
            pgconn.pipeline_sync()
        for statement, params in calls:
            pgconn.send_query_prepared(statement.name, params)
            pgconn.pipeline_sync()
        _flush(pgconn)
        outcomes = [_outcome(_results_until_sync(pgconn, poller)) for _ in range(len(to_prepare) + len(calls))]
        pgconn.exit_pipeline_mode()
        return outcomes
    except BaseException:
        # Left mid-pipeline, the connection would answer psycopg's next statement with
        # these results: close it, and Django opens a new one.
        raw.close()
        raise


def _flush(pgconn: Any) -> None:
    if (pending := pgconn.flush()) == 0:
        return
    # A big append fills the socket's buffer: wait until it drains, reading what the
    # server sends meanwhile so that neither side waits for the other.
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLOUT)
    while pending == 1:
        if any(events & select.POLLIN for _, events in poller.poll()):
            pgconn.consume_input()
        pending = pgconn.flush()
    if pending != 0:
        raise OperationalError(f"sending to the server failed: {_message(pgconn)}")


def _results_until_sync(pgconn: Any, poller: select.poll) -> list[Any]:
    results: list[Any] = []
    while True:
        while pgconn.is_busy():
            poller.poll()
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            if pgconn.status == pq.ConnStatus.BAD:
                raise OperationalError(f"the connection to the server was lost: {_message(pgconn)}")
            continue
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            return results
        results.append(result)


def _outcome(results: list[Any]) -> Outcome:
    rows: list[tuple[bytes | None, ...]] = []
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            return error_from_result(result, encoding=_ENCODING)
        if result.status == pq.ExecStatus.PIPELINE_ABORTED:
            return PipelineAborted("an earlier statement of the pipeline failed")
        rows.extend(
            tuple(result.get_value(row, column) for column in range(result.nfields)) for row in range(result.ntuples)
        )
    return rows


def _message(pgconn: Any) -> str:
    return bytes(pgconn.error_message).decode(_ENCODING, "replace").strip()
