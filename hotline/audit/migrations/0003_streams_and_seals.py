"""Several audit streams (one head row each) instead of one chain, and seals over the stream heads.

Existing events become stream 1 with position = seq; their hashes do not change (the hash covers
seq and the link, not the stream or position), so an existing chain still verifies."""

from django.db import migrations, models

from hotline.audit import guard


def number_existing(apps, schema_editor):
    connection = schema_editor.connection
    guard.remove(connection, tables=["audit_auditevent"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET stream = 1, position = seq")
    guard.install(connection, tables=["audit_auditevent"])


def create_heads(apps, schema_editor):
    # Writers lock one head each; creating them here spares the first writers waiting on each other.
    head = apps.get_model("audit", "AuditHead")
    head.objects.bulk_create([head(id=n) for n in range(1, 17)], ignore_conflicts=True)


def drop_extra_heads(apps, schema_editor):
    # Back to one chain: only head 1 may exist (the single-row constraint returns).
    apps.get_model("audit", "AuditHead").objects.exclude(id=1).delete()


def guard_seals(apps, schema_editor):
    guard.install(schema_editor.connection, tables=["audit_auditseal"])


def unguard_seals(apps, schema_editor):
    guard.remove(schema_editor.connection, tables=["audit_auditseal"])


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [
        migrations.AddField("auditevent", "stream", models.PositiveSmallIntegerField(default=1)),
        migrations.AddField("auditevent", "position", models.PositiveBigIntegerField(null=True)),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
        migrations.AlterField("auditevent", "position", models.PositiveBigIntegerField()),
        migrations.AlterField("auditevent", "hash", models.CharField(max_length=64)),
        migrations.AddConstraint(
            "auditevent",
            models.UniqueConstraint(fields=["stream", "position"], name="audit_stream_position_uniq"),
        ),
        migrations.RemoveConstraint("audithead", "audit_head_single_row"),
        migrations.RenameField("audithead", "seq", "position"),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sealed_at", models.DateTimeField()),
                ("heads", models.JSONField()),
                ("prev_hash", models.CharField(max_length=64, unique=True)),
                ("hash", models.CharField(max_length=64)),
            ],
        ),
        migrations.RunPython(guard_seals, unguard_seals),
        migrations.RunPython(create_heads, drop_extra_heads),
    ]
