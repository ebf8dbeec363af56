"""Re-install the PostgreSQL functions of sql.py on databases migrated before these fixes.

Position locks moved to their own advisory key range (other code's advisory locks no
longer stall readers), the in-flight check became ``eventstore_unsettled_min`` (which
lets a transaction read its own appends) and expected version 0 creates a stream.
Every statement is idempotent, so a fresh database simply installs the same text twice.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.eventstore import sql


def reinstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_INSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0002_database_objects")]
    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
