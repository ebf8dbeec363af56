"""The event store's public functions: append to a stream, read streams and the global log.

Every function takes ``using`` (a database alias) so the same contract runs on
PostgreSQL and SQLite. Reads return :class:`RecordedEvent` upcast to the current schema
version of each type. Outside ``apps.eventstore`` nothing names the store's tables or
models: other apps read and write through these functions.

- ``append``: appending, with optimistic concurrency and the wake-up NOTIFY;
- ``prepared``: the append's prepared statements outside transactions, through libpq;
- ``streams``: one stream's events and the list of streams;
- ``log``: the global log by position, its head, the newest events, one event;
- ``inflight``: the check that keeps global log reads gapless;
- ``rate``: events appended per second;
- ``rows``: the SELECT list and row decoding shared by the reads.
"""

from apps.eventstore.store.append import append_to_stream

# Re-exported for the test stack, which forgets it when it points the alias at another database.
from apps.eventstore.store.inflight import _settled_below as _settled_below
from apps.eventstore.store.log import (
    EventKey,
    correlation_read,
    event_read,
    event_recent_read,
    event_recorded_at,
    global_log_iter,
    global_log_keys_read,
    global_log_read,
    head_position,
)
from apps.eventstore.store.rate import event_rate_per_second
from apps.eventstore.store.rows import store_cursor
from apps.eventstore.store.streams import (
    stream_event_data,
    stream_event_read,
    stream_info_get,
    stream_info_search,
    stream_page_read,
    stream_read,
    stream_type_list,
    stream_version,
)

__all__ = [
    "EventKey",
    "append_to_stream",
    "correlation_read",
    "event_rate_per_second",
    "event_read",
    "event_recent_read",
    "event_recorded_at",
    "global_log_iter",
    "global_log_keys_read",
    "global_log_read",
    "head_position",
    "store_cursor",
    "stream_event_data",
    "stream_event_read",
    "stream_info_get",
    "stream_info_search",
    "stream_page_read",
    "stream_read",
    "stream_type_list",
    "stream_version",
]
