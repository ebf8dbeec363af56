from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# The trigger as migration 0002 installed it: dropped here, restored when this migration is reversed.
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


def trigger_drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The NOTIFY in this trigger took PostgreSQL's notify lock at every appending commit,
    # through the commit's WAL flush, serialising concurrent writers. The event store
    # now notifies after commit instead.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UNINSTALL, params=None)


def trigger_restore(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_INSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0003_consumer_lag")]
    operations = [migrations.RunPython(trigger_drop, trigger_restore)]
