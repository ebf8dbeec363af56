from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.messaging.relay import sql


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_INSTALL, params=None)


def uninstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.POSTGRES_UNINSTALL, params=None)


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
