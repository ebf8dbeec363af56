"""String types for every string the API reads: a body field, a path segment, a query parameter.

PostgreSQL refuses NUL in text and in jsonb, and a lone UTF-16 surrogate cannot be
encoded to UTF-8 at all: left to the database either is a 500 after part of the work
is done. Refused here, at the edge, they are a 422 naming the field before anything is
written. Other control characters are refused too: none of these values means anything
with one in it, and they would reach logs, the audit log and terminals as they are.

``Line`` is a one-line value (ids, names, filters, keys); ``Text`` is free text (a
reason), where tabs and line breaks are allowed. Give each its column's ``max_length``
(``column_max_length``) so a long value is a 422 and not a database error.
"""

from __future__ import annotations

import re
from typing import Annotated

from django.db import models
from django.db.models import Model
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What the OpenAPI document promises, so clients and fuzzers know the rule; JSON Schema
# patterns cannot name a lone surrogate, which UTF-8 on the wire cannot carry anyway.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def _refuse(value: str, forbidden: re.Pattern[str]) -> str:
    found = forbidden.search(value)
    if found is None:
        return value
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        raise PydanticCustomError(
            "lone_surrogate",
            "must not contain a lone UTF-16 surrogate (U+{code}) at index {index}",
            {"code": f"{ord(char):04X}", "index": found.start()},
        )
    raise PydanticCustomError(
        "control_character",
        "must not contain control characters (U+{code} at index {index})",
        {"code": f"{ord(char):04X}", "index": found.start()},
    )


def line_check(value: str) -> str:
    """``value`` unchanged, or a validation error when it holds a control character or a lone surrogate."""
    return _refuse(value, LINE_FORBIDDEN)


def text_check(value: str) -> str:
    """Like :func:`line_check`, but tabs and line breaks are allowed."""
    return _refuse(value, TEXT_FORBIDDEN)


Line = Annotated[str, AfterValidator(line_check), Field(json_schema_extra={"pattern": LINE_PATTERN})]
Text = Annotated[str, AfterValidator(text_check), Field(json_schema_extra={"pattern": TEXT_PATTERN})]


# PostgreSQL's bigint: a larger integer in a query parameter is a 422, not a database error.
BIGINT_MAX = 2**63 - 1


def column_max_length(model: type[Model], field: str) -> int:
    """The ``max_length`` of a model's character column, so a schema and its table cannot drift apart."""
    column = model._meta.get_field(field)
    max_length = column.max_length if isinstance(column, models.Field) else None
    if max_length is None:
        raise ValueError(f"{model.__name__}.{field} has no max_length")
    return int(max_length)
