"""Plain indexes in place of db_index on two CharFields.

On PostgreSQL db_index also created LIKE-pattern indexes that no query uses and every
append maintained. On SQLite AlterField remakes the table, which drops its triggers, so
the append-only triggers are installed again afterwards.
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.eventstore import sql


def sqlite_triggers_install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in sql.SQLITE_INSTALL:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0003_position_lock_namespace")]

    operations = [
        migrations.AlterField(
            model_name="storedevent",
            name="correlation_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="storedevent",
            name="event_type",
            field=models.CharField(max_length=100),
        ),
        migrations.AddIndex(
            model_name="storedevent",
            index=models.Index(fields=["event_type", "position"], name="eventstore_type_position"),
        ),
        migrations.AddIndex(
            model_name="storedevent",
            index=models.Index(fields=["correlation_id", "position"], name="eventstore_correlation_pos"),
        ),
        migrations.RunPython(sqlite_triggers_install, migrations.RunPython.noop),
    ]
