from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# The trigger this migration installs, kept here as history: migration 0004 drops it again.
POSTGRES_INSTALL = """
CREATE OR REPLACE FUNCTION eventstore_notify_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eventstore_appended', '');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS eventstore_stored_event_notify ON eventstore_stored_event;
CREATE TRIGGER eventstore_stored_event_notify
    AFTER INSERT ON eventstore_stored_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_notify_appended();
"""

POSTGRES_UNINSTALL = """
DROP TRIGGER IF EXISTS eventstore_stored_event_notify ON eventstore_stored_event;
DROP FUNCTION IF EXISTS eventstore_notify_appended();
"""


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_INSTALL, params=None)


def uninstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("eventstore", "0002_database_objects"),
    ]

    operations = [
        migrations.CreateModel(
            name="RelayCheckpoint",
            fields=[
                ("name", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("position", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"db_table": "messaging_relay_checkpoint"},
        ),
        migrations.RunPython(install, uninstall),
    ]
