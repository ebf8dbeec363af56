from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.eventstore import sql


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_INSTALL, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in sql.SQLITE_INSTALL:
            schema_editor.execute(statement)


def uninstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_UNINSTALL, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in sql.SQLITE_UNINSTALL:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
