"""The one client of a real schema registry: confluent-kafka's ``SchemaRegistryClient``, one per process and URL."""

from __future__ import annotations

import json
import threading
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from django.conf import settings

_lock = threading.Lock()
_clients: dict[str, SchemaRegistryClient] = {}


def registry_client(*, url: str | None = None) -> SchemaRegistryClient:
    """A client of ``url`` (default ``SCHEMA_REGISTRY_URL``), shared by the process's threads."""
    url = url or settings.SCHEMA_REGISTRY_URL
    if not url:
        raise ValueError("SCHEMA_REGISTRY_URL is empty: the embedded registry needs no client")
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = SchemaRegistryClient({"url": url})
            _clients[url] = client
        return client


def registry_schema_fetch(*, schema_id: int) -> dict[str, Any] | None:
    """The Avro schema with ``schema_id`` in the configured registry, or None when it has none."""
    try:
        schema = registry_client().get_schema(schema_id)
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return None
        raise
    if schema.schema_type not in (None, "AVRO") or schema.schema_str is None:
        return None
    parsed = json.loads(schema.schema_str)
    return parsed if isinstance(parsed, dict) else None
