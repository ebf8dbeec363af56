"""``python manage.py schema_registry_sync``: register the schema catalogue with the real registry, or refuse.

Exits non-zero (and registers nothing more) when the registry and the project's own
compatibility rules disagree about a version, or the registry holds other versions under
a subject. With ``SCHEMA_REGISTRY_URL`` empty there is nothing to do: the embedded
registry serves the catalogue itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.messaging.schema_registry.client import registry_client
from apps.messaging.schema_registry.sync import SchemaRegistryDisagrees, schema_registry_sync


class Command(BaseCommand):
    help = "Register every event schema with the schema registry at SCHEMA_REGISTRY_URL (compatibility BACKWARD)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="The registry (default: SCHEMA_REGISTRY_URL).")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or settings.SCHEMA_REGISTRY_URL
        if not url:
            self.stdout.write(
                "SCHEMA_REGISTRY_URL is empty: the embedded registry at /schema-registry/ serves the catalogue"
            )
            return
        try:
            synced = schema_registry_sync(client=registry_client(url=url))
        except SchemaRegistryDisagrees as exc:
            raise CommandError(f"schema registry {url}: {exc}") from exc
        for item in synced:
            state = "registered" if item.registered else "already there"
            self.stdout.write(f"{item.entry.subject} v{item.entry.version}: id {item.schema_id} ({state})")
