"""Filters for showing stored values. None marks its output safe: autoescape still applies."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django import template

from apps.messaging.schema_registry.catalogue import registry_schema_for
from apps.messaging.schema_registry.sync import registry_ids_ensure

logger = logging.getLogger(__name__)

register = template.Library()


@register.filter
def json_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def json_compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def clock(value: dt.datetime | None) -> str:
    """HH:MM:SS.mmm in UTC."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%H:%M:%S.%f")[:-3]


@register.filter
def stamp(value: dt.datetime | None) -> str:
    """YYYY-MM-DD HH:MM:SS.mmm in UTC."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@register.filter
def day_clock(value: dt.datetime | None) -> str:
    """MM-DD HH:MM:SS.mmm in UTC: dense, and still right across midnight."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%m-%d %H:%M:%S.%f")[:-3]


@register.filter
def short_id(value: Any, length: int = 8) -> str:
    text = str(value or "")
    return text if len(text) <= length + 1 else text[:length] + "…"


@register.filter
def offset_ms(value: dt.datetime, start: dt.datetime) -> str:
    """Milliseconds from ``start`` to ``value``, as "+12 ms" or "+1.2 s"."""
    millis = (value - start).total_seconds() * 1000
    return f"+{millis:.0f} ms" if millis < 1000 else f"+{millis / 1000:.2f} s"


@register.filter
def thousands(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—" if value is None else str(value)


@register.simple_tag
def schema_id_of(event_type: str, schema_version: int) -> int | None:
    """The registry id of an event type's schema version (``{% schema_id_of t v as id %}``); None when unknown."""
    try:
        # With a real registry the ids are its own: adopted once per process (a no-op when embedded).
        registry_ids_ensure()
    except Exception:
        logger.warning("schema registry unreachable: no schema links on this page", exc_info=True)
        return None
    try:
        return registry_schema_for(event_type=event_type, version=schema_version).schema_id
    except KeyError:
        return None
