"""Read-only admin for the event store: list, filter, search and inspect; never add, change or delete.

Filters avoid ``SELECT DISTINCT`` over the events table: stream and correlation ids are
typed in, event types come from the schema catalogue. Lists never ``COUNT(*)`` a whole
table: the unfiltered events list takes its size from the head position, and a filtered
list counts at most :data:`COUNT_CAP` rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any, cast
from urllib.parse import quote, urlencode

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.api.fields import LINE_FORBIDDEN
from apps.eventstore.errors import EventStoreError
from apps.eventstore.models import EventStream, StoredEvent
from apps.eventstore.schemas import event_upcast, schema_catalogue
from apps.eventstore.store import head_position

# A filtered list counts no further than this: past it, the pages stop at COUNT_CAP rows.
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most :data:`COUNT_CAP` rows, so a list over millions of rows costs a bounded count."""

    @property
    def queryset(self) -> QuerySet[Any]:
        # The admin always paginates a queryset.
        return cast(QuerySet[Any], self.object_list)

    @cached_property
    def count(self) -> int:
        return self.queryset.order_by()[:COUNT_CAP].count()


class StoredEventPaginator(CappedCountPaginator):
    """The unfiltered list is as long as the head position (gaps of rolled-back appends aside)."""

    @cached_property
    def count(self) -> int:
        if not self.queryset.query.where:
            return head_position(using=self.queryset.db)
        return super().count


class _TextInputFilter(admin.SimpleListFilter):
    """A filter the operator types a value into (ids have too many values to list)."""

    template = "admin/eventstore/input_filter.html"
    field_name = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # One placeholder choice: a SimpleListFilter without choices is not shown.
        return [("", "")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        if LINE_FORBIDDEN.search(value):
            # PostgreSQL cannot compare text holding a NUL: the admin's own "bad filter" answer instead of a 500.
            raise IncorrectLookupParameters(f"{self.title}: control characters are not allowed")
        return queryset.filter(**{self.field_name: value}) if value else queryset

    def get_facet_counts(self, pk_attname: str, filtered_qs: QuerySet[Any]) -> dict[str, Any]:
        return {}

    def choices(self, changelist: Any) -> Iterator[Any]:  # extra keys for the template
        other_params = [
            (key, value)
            for key, values in changelist.get_filters_params().items()
            if key != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "hidden_params": other_params,
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
        }


class StreamIdFilter(_TextInputFilter):
    title = "stream id"
    parameter_name = field_name = "stream_id"


class CorrelationIdFilter(_TextInputFilter):
    title = "correlation id"
    parameter_name = field_name = "correlation_id"


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(event_type, event_type) for event_type in sorted(schema_catalogue().schemas)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(event_type=value) if value else queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, never touch: the event store is append-only, and read models change only by their projector."""

    actions: Sequence[Any] | None = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _events_link(text: str, **filters: str) -> SafeString:
    url = reverse("admin:eventstore_storedevent_changelist") + "?" + urlencode(filters)
    return format_html('<a href="{}">{}</a>', url, text)


def console_link(path: str, text: str = "open in console") -> SafeString:
    """A link from an admin page to the console page of the same record (the console's own paths)."""
    return format_html('<a class="console-link" href="{}">{}</a>', path, text)


def _stream_console_path(stream_id: str, version: int | None = None) -> str:
    path = "/aggregates/stream/" + quote(stream_id)
    return f"{path}?version={version}" if version is not None else path


def _pretty_json(value: Any) -> SafeString:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(StoredEvent)
class StoredEventAdmin(ReadOnlyAdmin):
    list_display = ("position", "stream", "version", "event_type", "schema_version", "correlation", "recorded_at")
    list_display_links = ("position",)
    list_filter = (StreamIdFilter, EventTypeFilter, CorrelationIdFilter, ("recorded_at", admin.DateFieldListFilter))
    search_fields = ("=stream_id", "=correlation_id", "=event_type")
    search_help_text = "Exact stream id, correlation id or event type."
    ordering = ("-position",)
    paginator = StoredEventPaginator
    show_full_result_count = False
    # Facets would count every filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    fields = (
        "position",
        "console",
        "stream",
        "stream_type",
        "version",
        "event_type",
        "schema_version",
        "correlation",
        "causation_id",
        "actor",
        "recorded_at",
        "data_stored",
        "data_as_read",
        "metadata_stored",
    )
    readonly_fields = fields

    def view_on_site(self, event: StoredEvent) -> str:
        return _stream_console_path(event.stream_id, event.version)

    @admin.display(description="console")
    def console(self, event: StoredEvent) -> SafeString:
        return console_link(_stream_console_path(event.stream_id, event.version), "open at this version in console")

    @admin.display(description="stream", ordering="stream_id")
    def stream(self, event: StoredEvent) -> SafeString:
        return _events_link(event.stream_id, stream_id=event.stream_id)

    @admin.display(description="correlation id", ordering="correlation_id")
    def correlation(self, event: StoredEvent) -> SafeString:
        return _events_link(event.correlation_id, correlation_id=event.correlation_id)

    @admin.display(description="causation id")
    def causation_id(self, event: StoredEvent) -> str:
        return str(event.metadata.get("causation_id") or "-")

    @admin.display(description="actor")
    def actor(self, event: StoredEvent) -> str:
        return str(event.metadata.get("actor") or "-")

    @admin.display(description="data (as stored)")
    def data_stored(self, event: StoredEvent) -> SafeString:
        return _pretty_json(event.data)

    @admin.display(description="data (as read, upcast to the current version)")
    def data_as_read(self, event: StoredEvent) -> SafeString | str:
        try:
            version, data = event_upcast(
                event_type=event.event_type, schema_version=event.schema_version, data=event.data
            )
        except EventStoreError as exc:
            return f"cannot be read: {exc}"
        if version == event.schema_version:
            return f"same as stored (v{version} is current)"
        return format_html("v{}:{}", version, _pretty_json(data))

    @admin.display(description="metadata")
    def metadata_stored(self, event: StoredEvent) -> SafeString:
        return _pretty_json(event.metadata)


@admin.register(EventStream)
class EventStreamAdmin(ReadOnlyAdmin):
    list_display = ("stream_id", "stream_type", "version", "events", "created_at", "updated_at")
    list_filter = ("stream_type", ("updated_at", admin.DateFieldListFilter))
    search_fields = ("=stream_id",)
    search_help_text = "Exact stream id."
    ordering = ("-updated_at",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = ("stream_id", "console", "stream_type", "version", "events", "created_at", "updated_at")
    readonly_fields = fields

    def view_on_site(self, stream: EventStream) -> str:
        return _stream_console_path(stream.stream_id)

    @admin.display(description="console")
    def console(self, stream: EventStream) -> SafeString:
        return console_link(_stream_console_path(stream.stream_id))

    @admin.display(description="events")
    def events(self, stream: EventStream) -> SafeString:
        return _events_link(f"{stream.version} events", stream_id=stream.stream_id)
