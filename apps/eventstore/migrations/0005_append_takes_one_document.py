"""Re-install the PostgreSQL functions of sql.py: ``eventstore_append`` takes the events as one JSON document.

The array form (a text, integer or jsonb array per column) made the client dump each
element of five arrays in Python; one document is serialised in one orjson call and
parsed once by the server. The array form is dropped, so code from before this
migration cannot append to a migrated database. Every statement is idempotent.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.eventstore import sql


def reinstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_INSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0004_plain_indexes")]
    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
