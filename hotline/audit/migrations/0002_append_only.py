"""Database triggers that refuse UPDATE and DELETE on audit events (append-only)."""

from django.db import migrations

from hotline.audit import guard


def forwards(apps, schema_editor):
    guard.install(schema_editor.connection, tables=["audit_auditevent"])


def backwards(apps, schema_editor):
    guard.remove(schema_editor.connection, tables=["audit_auditevent"])


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
