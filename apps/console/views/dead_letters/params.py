"""The dead-letter filter as the pages and forms send it (?group=&event_type=&...), checked like any parameter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.core.exceptions import BadRequest
from django.utils import timezone
from pydantic_core import PydanticCustomError

from apps.api.fields import line_check
from apps.messaging.dead_letters import DeadLetter, DeadLetterFilter, DeadLetterStatus

# Query parameter -> DeadLetterFilter field, for the text fields (each capped at its column's length).
TEXT_PARAMETERS = {
    "group": ("group_id", DeadLetter._meta.get_field("group_id").max_length),
    "stream": ("stream_id", DeadLetter._meta.get_field("stream_id").max_length),
    "event_type": ("event_type", DeadLetter._meta.get_field("event_type").max_length),
    "error_class": ("error_class", DeadLetter._meta.get_field("error_class").max_length),
    "fingerprint": ("fingerprint", DeadLetter._meta.get_field("fingerprint").max_length),
    "q": ("message_contains", 500),
}
TIME_PARAMETERS = {"from": "created_after", "to": "created_before"}


def _text(params: Mapping[str, str], name: str, max_length: int | None) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        value = line_check(value)
    except PydanticCustomError as exc:
        raise BadRequest(f"?{name}= {exc.message()}") from None
    if max_length is not None and len(value) > max_length:
        raise BadRequest(f"?{name}= is longer than {max_length} characters")
    return value


def _time(params: Mapping[str, str], name: str) -> dt.datetime | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"?{name}= must be a date and time like 2026-12-06T04:20") from None
    # The form's datetime-local inputs carry no zone; the console shows UTC everywhere.
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


def dead_letter_filter_read(params: Mapping[str, str], *, status_default: str | None = None) -> DeadLetterFilter:
    """The filter ``params`` describe; BadRequest (a 400 naming the parameter) for one that is not valid."""
    values: dict[str, object] = {field: _text(params, name, cap) for name, (field, cap) in TEXT_PARAMETERS.items()}
    values.update({field: _time(params, name) for name, field in TIME_PARAMETERS.items()})
    status = params.get("status", status_default or "") or None
    if status is not None and status not in DeadLetterStatus.values:
        raise BadRequest(f"?status= must be one of {', '.join(DeadLetterStatus.values)}")
    return DeadLetterFilter(status=status, **values)  # type: ignore[arg-type]


def dead_letter_filter_query(filters: DeadLetterFilter) -> dict[str, str]:
    """The parameters that describe ``filters`` again (for links and hidden form fields)."""
    fields = {field: name for name, (field, _) in TEXT_PARAMETERS.items()} | {
        field: name for name, field in TIME_PARAMETERS.items()
    }
    query = {fields[field]: value for field, value in filters.as_dict().items() if field in fields}
    if filters.status:
        query["status"] = filters.status
    return query
