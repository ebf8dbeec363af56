"""Check the Avro schema catalogue: every version of every event type reads the previous one's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.eventstore.schemas import schema_catalogue, schema_catalogue_check
from apps.eventstore.schemas.catalogue import SchemaCatalogueError, catalogue_load


class Command(BaseCommand):
    help = (
        "Load every <EventType>/v<N>.avsc of the registered schema directories and refuse any version"
        " that cannot read the data of the "
        "version before it (fastavro schema resolution) or has no upcaster. Exits non-zero on a problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schemas-dir",
            type=Path,
            default=None,
            help="a directory of schema files to check instead (default: every directory the apps registered)",
        )

    def handle(self, *args: Any, schemas_dir: Path | None, **options: Any) -> None:
        try:
            catalogue = schema_catalogue() if schemas_dir is None else catalogue_load(root=schemas_dir)
        except SchemaCatalogueError as exc:
            raise CommandError(f"the schema files are wrong: {exc}") from exc
        for event_type, versions in sorted(catalogue.schemas.items()):
            self.stdout.write(f"{event_type}: versions 1..{max(versions)}")
        results = schema_catalogue_check(catalogue=catalogue)
        for result in results:
            step = f"{result.event_type} v{result.from_version} -> v{result.to_version}"
            if result.ok:
                self.stdout.write(self.style.SUCCESS(f"ok: {step}"))
            else:
                self.stdout.write(self.style.ERROR(f"refused: {step}: {result.problem}"))
        refused = [result for result in results if not result.ok]
        if refused:
            raise CommandError(f"{len(refused)} of {len(results)} schema version steps are incompatible")
        types = len(catalogue.schemas)
        self.stdout.write(self.style.SUCCESS(f"{types} event types, {len(results)} version steps, all compatible"))
