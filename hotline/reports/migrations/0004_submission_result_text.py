"""The stored answer of a batch becomes JSON text, compressed with lz4 on PostgreSQL.

A 5,000-URL answer is about 1 MB of JSON. As jsonb, PostgreSQL parsed it into a tree and compressed it
with pglz: about 5 µs of database CPU per URL of intake (docs/performance.md). It is only ever read back
whole, for a replay, so it is kept as the text the API wrote. Existing rows convert to their JSON text.
lz4 is skipped on a PostgreSQL built without it.
"""

from django.db import migrations, models


def lz4(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone() is not None:
            cursor.execute("ALTER TABLE reports_submission ALTER COLUMN result SET COMPRESSION lz4")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_merge_0002_report_kind_0002_source_iccam"),
    ]

    operations = [
        migrations.AlterField(model_name="submission", name="result", field=models.TextField()),
        migrations.RunPython(lz4, migrations.RunPython.noop, elidable=True),
    ]
