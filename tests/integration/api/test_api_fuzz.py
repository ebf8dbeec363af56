"""A bounded schemathesis run over /api/openapi.json, as an operator and as a viewer.

It sends what the schema allows and what it does not (NUL and other control characters,
out-of-range numbers, wrong types, missing and extra fields) to every operation through
the real WSGI application, and holds that: no answer is a server error, every answer is
documented with its schema, no malformed input is accepted, and a viewer writes nothing
(the event store's head and the audit, dead-letter and failure-rule tables stay as they
were; a refusal is audited as refused, by design). Seeded and bounded to stay near a
minute on a small machine.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.requests import prepare_query
from werkzeug.test import EnvironBuilder

from apps.accounts.models import AuditLog
from apps.accounts.services import api_token_create
from apps.eventstore.store import head_position
from apps.messaging.dead_letters import DeadLetter, FailureRule
from apps.sagas.models import SagaInstance, SagaStep

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _checks(case: Any) -> list[Any]:
    # "No accepted malformed input" is held for what a POST sends. On a GET the fuzzer
    # counts an ignored unknown query parameter as accepted bad input, and the API, like
    # most, ignores query parameters it does not know.
    return [*CHECKS, negative_data_rejection] if case.operation.method.upper() == "POST" else CHECKS


@pytest.fixture
def test_connection_kept() -> Iterator[None]:
    """Keep the test's connection (and its transaction) open across WSGI requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _schema() -> Any:
    # Loaded at collection: the OpenAPI document needs no user and no database.
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
    schema.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
    )
    return schema


schema = _schema()
# Publishing a poison message needs the Kafka broker, which these tests do not start; its
# input rules are covered in test_bad_input, and the viewer run still fuzzes the route.
operator_schema = schema.exclude(path="/api/poison-messages")


@pytest.fixture
def operator_headers(operator: User, test_connection_kept: None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token_create(user=operator, name='fuzz')}"}


@pytest.fixture
def viewer_headers(viewer: User, test_connection_kept: None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token_create(user=viewer, name='fuzz')}"}


def _written() -> dict[str, Any]:
    return {
        "head": head_position(),
        "audit": AuditLog.objects.exclude(outcome="refused").count(),
        "dead_letters": list(DeadLetter.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        "failure_rules": list(FailureRule.objects.order_by("pk").values_list("pk", "enabled", "updated_at")),
        "sagas": list(SagaInstance.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        "saga_steps": SagaStep.objects.count(),
    }


# The users and the transaction are the test's, shared by its examples on purpose.
ONE_DATABASE_PER_TEST = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)


@operator_schema.parametrize()
@ONE_DATABASE_PER_TEST
def test_an_operator_gets_no_server_error_and_no_malformed_input_is_accepted(
    case: Any, operator_headers: dict[str, str]
) -> None:
    case.call_and_validate(headers=operator_headers, checks=_checks(case))


@schema.parametrize()
@ONE_DATABASE_PER_TEST
def test_a_viewer_gets_no_server_error_and_writes_nothing(
    case: Any, viewer_headers: dict[str, str], written: Callable[[], dict[str, Any]]
) -> None:
    before = written()
    response = case.call_and_validate(headers=viewer_headers, checks=_checks(case))
    if case.method.upper() == "POST":
        # 403 as the viewer, 401 when the fuzzer drops or spoils the credentials, 404 or
        # 405 when the fuzzer aimed the POST at a path or method that takes none.
        assert response.status_code in {401, 403, 404, 405}, response.text
    assert written() == before


# What the generated strings rarely hold on their own: every string of a case gets one
# of these (a lone surrogate only in JSON bodies; UTF-8 in a URL cannot carry one).
CONTROL_CHARACTERS = ["\x00", "\x01", "\x1b", "\x7f", "\x85"]


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_paths(item, (*path, index))


def _with_char(value: Any, path: tuple[Any, ...], char: str) -> Any:
    if not path:
        return f"{value[:1]}{char}{value[1:]}"
    changed = copy.deepcopy(value)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = _with_char(parent[path[-1]], (), char)
    return changed


def _poisoned(value: Any, chars: list[str]) -> st.SearchStrategy[Any]:
    paths = list(_string_paths(value))
    if not paths:
        return st.just(value)
    return st.builds(lambda path, char: _with_char(value, path, char), st.sampled_from(paths), st.sampled_from(chars))


def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return _poisoned(body, [*CONTROL_CHARACTERS, "\ud800"])


def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    return _poisoned(query, CONTROL_CHARACTERS)


def flatmap_path_parameters(context: Any, path_parameters: Any) -> st.SearchStrategy[Any]:
    return _poisoned(path_parameters, CONTROL_CHARACTERS)


def _sent_a_control_character(case: Any, response: Any) -> bool:
    # What was sent, not what was generated: a value the transport cannot put on the wire
    # as generated (a list of lists where a query parameter takes a string) loses its
    # characters. The WSGI transport hands the query to werkzeug, which writes such a value
    # as its repr, so the query is rebuilt the way werkzeug builds it (the response's
    # request, a requests rendering, flattens it instead). Every query parameter counts,
    # declared or not: the API refuses a control character in any of them, as in the path
    # and in any string of the body.
    request = response.request
    query = EnvironBuilder(query_string=prepare_query(case)).query_string
    sent = unquote(urlsplit(request.url).path) + unquote_plus(query)
    body = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else request.body or ""
    chars = [*CONTROL_CHARACTERS, "\ud800"]
    return any(char in sent or char in body or json.dumps(char)[1:-1] in body for char in chars)


@schema.hooks.apply(flatmap_body)
@schema.hooks.apply(flatmap_query)
@schema.hooks.apply(flatmap_path_parameters)
@operator_schema.parametrize()
@ONE_DATABASE_PER_TEST
def test_a_control_character_in_any_string_is_a_4xx_and_never_a_server_error(
    case: Any, operator_headers: dict[str, str]
) -> None:
    response = case.call_and_validate(headers=operator_headers, checks=CHECKS)
    if _sent_a_control_character(case, response):
        assert 400 <= response.status_code < 500, (case.body, case.query, case.path_parameters, response.text)


@pytest.fixture
def written(db: None) -> Callable[[], dict[str, Any]]:
    return _written
