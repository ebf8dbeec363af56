from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.messaging.relay import sql


def trigger_drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The NOTIFY in this trigger took PostgreSQL's notify lock at every appending commit,
    # through the commit's WAL flush, serialising concurrent writers. The event store
    # now notifies after commit instead.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_UNINSTALL, params=None)


def trigger_restore(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_INSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0003_consumer_lag")]
    operations = [migrations.RunPython(trigger_drop, trigger_restore)]
