"""One policy for every operator action: role check, an audit entry written before the action, its outcome."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connections, transaction

from apps.accounts.audit import AuditEntryInvalid, audit_log_record
from apps.accounts.models import AuditLog
from apps.accounts.operator_actions import operator_action

pytestmark = pytest.mark.django_db


def test_an_operators_action_runs_and_its_one_entry_says_who_what_when_and_ok(operator: User) -> None:
    done: list[uuid.UUID] = []

    with operator_action(actor=operator, action="test.act", target="thing:1", parameters={"n": 1}) as act:
        done.append(act.correlation_id)
        act.detail, act.result = "acted", {"made": 7}

    entry = AuditLog.objects.get()
    assert done == [entry.correlation_id]
    assert (entry.actor, entry.user, entry.action, entry.target) == ("olga", operator, "test.act", "thing:1")
    assert (entry.parameters, entry.outcome, entry.detail, entry.result) == ({"n": 1}, "ok", "acted", {"made": 7})
    assert entry.finished_at is not None and entry.started_at <= entry.finished_at


def test_a_viewer_is_refused_the_action_does_not_run_and_the_refusal_is_audited(viewer: User) -> None:
    ran: list[bool] = []

    with (
        pytest.raises(PermissionDenied, match=r"test\.act needs the operator role; victor"),
        operator_action(actor=viewer, action="test.act", target="thing:1", parameters={"n": 1}),
    ):
        ran.append(True)

    assert ran == []
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.user, entry.outcome, entry.parameters) == ("victor", viewer, "refused", {"n": 1})
    assert entry.detail == "operator role required"
    assert entry.started_at == entry.finished_at


def test_a_bare_name_acts_only_where_the_action_allows_named_callers(db: None) -> None:
    with (
        pytest.raises(PermissionDenied),
        operator_action(actor="cli:root", action="test.act", target="t", parameters={}),
    ):
        pass
    with operator_action(actor="cli:root", action="test.act", target="t", parameters={}, allow_named=True):
        pass

    outcomes = list(AuditLog.objects.order_by("id").values_list("actor", "outcome"))
    assert outcomes == [("cli:root", "refused"), ("cli:root", "ok")]


def test_an_action_that_raises_is_audited_as_failed_with_the_error_and_the_error_propagates(operator: User) -> None:
    with (
        pytest.raises(LookupError, match="row 9 is missing"),
        operator_action(actor=operator, action="test.act", target="thing:9", parameters={}),
    ):
        raise LookupError("row 9 is missing")

    entry = AuditLog.objects.get()
    assert (entry.outcome, entry.detail) == ("failed", "LookupError: row 9 is missing")
    assert entry.finished_at is not None


def test_an_action_the_state_refuses_ends_refused_not_failed(operator: User) -> None:
    with (
        pytest.raises(RuntimeError),
        operator_action(actor=operator, action="test.act", target="t", parameters={}) as act,
    ):
        act.refuse("already running")
        raise RuntimeError("already running")

    assert list(AuditLog.objects.values_list("outcome", "detail")) == [("refused", "already running")]


def test_each_action_has_its_own_correlation_id(operator: User, viewer: User) -> None:
    for actor in (operator, operator, viewer):
        try:
            with operator_action(actor=actor, action="test.act", target="t", parameters={}):
                pass
        except PermissionDenied:
            pass

    ids = list(AuditLog.objects.values_list("correlation_id", flat=True))
    assert len(ids) == 3 and len(set(ids)) == 3 and all(isinstance(i, uuid.UUID) for i in ids)


@pytest.mark.parametrize(
    ("parameters", "target", "field", "problem"),
    [
        ({"key": "order\x00poison"}, "t", "key", "NUL character"),
        ({"filters": {"stream": "order-\ud800"}}, "t", "filters.stream", "lone surrogate"),
        ({"reason": "bell\x07"}, "t", "reason", "control character"),
        ({"items": ["ok", "bad\x1b"]}, "t", "items[1]", "control character"),
        ({"share": float("nan")}, "t", "share", "JSON cannot hold"),
        ({}, "stream:" + "x" * 300, "target", "at most 255 fit"),
        ({}, "dead_letter:\x00", "target", "NUL character"),
    ],
)
def test_a_value_the_entry_cannot_hold_stops_the_action_before_it_runs_and_writes_nothing(
    operator: User, parameters: dict[str, object], target: str, field: str, problem: str
) -> None:
    ran: list[bool] = []

    with (
        pytest.raises(AuditEntryInvalid, match=problem) as invalid,
        operator_action(actor=operator, action="test.act", target=target, parameters=parameters),
    ):
        ran.append(True)

    assert invalid.value.field == field
    assert ran == []
    assert not AuditLog.objects.exists()


def test_tabs_and_line_breaks_are_ordinary_text(operator: User) -> None:
    with operator_action(actor=operator, action="test.act", target="t", parameters={"reason": "a\tb\r\nc"}):
        pass
    assert AuditLog.objects.get().parameters == {"reason": "a\tb\r\nc"}


def test_an_error_whose_text_the_row_cannot_hold_is_stored_escaped(operator: User) -> None:
    with pytest.raises(ValueError), operator_action(actor=operator, action="test.act", target="t", parameters={}):
        raise ValueError("bad byte \x00 in event data")

    assert AuditLog.objects.get().detail == "ValueError: bad byte \\u0000 in event data"


def test_a_system_record_escapes_and_cuts_what_the_row_cannot_hold(db: None) -> None:
    entry = audit_log_record(
        actor="system",
        action="api.request",
        target="/api/x\x00/" + "y" * 300,
        parameters={"method\x00": "POST\ud800"},
        outcome="refused",
    )

    entry.refresh_from_db()
    assert entry.target.startswith("/api/x\\u0000/") and len(entry.target) == 255
    assert entry.parameters == {"method\\u0000": "POST\\ud800"}
    assert entry.correlation_id is not None and entry.started_at == entry.finished_at


@pytest.mark.django_db(transaction=True)
def test_the_entry_is_committed_as_running_before_the_action_runs(operator: User) -> None:
    seen: list[tuple[str, object]] = []

    def read_from_another_connection(correlation_id: uuid.UUID) -> None:
        try:
            entry = AuditLog.objects.get(correlation_id=correlation_id)
            seen.append((entry.outcome, entry.finished_at))
        finally:
            connections.close_all()

    with operator_action(actor=operator, action="test.act", target="t", parameters={}) as act:
        reader = threading.Thread(target=read_from_another_connection, args=(act.correlation_id,))
        reader.start()
        reader.join()

    assert seen == [("running", None)]
    assert AuditLog.objects.get().outcome == "ok"


@pytest.mark.django_db(transaction=True)
def test_an_action_refuses_to_run_inside_a_callers_transaction(operator: User) -> None:
    ran: list[bool] = []

    with (
        pytest.raises(RuntimeError, match="durable"),
        transaction.atomic(),
        operator_action(actor=operator, action="test.act", target="t", parameters={}),
    ):
        ran.append(True)

    assert ran == []
    assert not AuditLog.objects.exists()
