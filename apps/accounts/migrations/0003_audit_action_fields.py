import uuid

import django.utils.timezone
from django.db import migrations, models


def entries_backfill(apps, schema_editor):
    # Entries written before operator actions had their own id and times: each gets a
    # fresh id, and its one timestamp stands for both start and end.
    AuditLog = apps.get_model("accounts", "AuditLog")
    for entry in AuditLog.objects.filter(correlation_id__isnull=True).only("pk", "created_at").iterator():
        AuditLog.objects.filter(pk=entry.pk).update(
            correlation_id=uuid.uuid4(), started_at=entry.created_at, finished_at=entry.created_at
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles")]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="result",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="correlation_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="started_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(entries_backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditlog",
            name="correlation_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="started_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="outcome",
            field=models.CharField(
                choices=[("running", "running"), ("ok", "ok"), ("failed", "failed"), ("refused", "refused")],
                max_length=10,
            ),
        ),
    ]
