"""PostgreSQL: compress the stored answer of a batch with lz4 instead of pglz.

A 5,000-URL answer is about 1 MB of JSON; pglz spent about 20 ms of database CPU on each (4 µs per URL
of intake, docs/performance.md), lz4 a quarter of that. Only the storage of the column changes
(existing rows stay as they are and read the same). Skipped on other databases and on a PostgreSQL
built without lz4.
"""

from django.db import migrations


def lz4(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone() is not None:
            cursor.execute("ALTER TABLE reports_submission ALTER COLUMN result SET COMPRESSION lz4")


def pglz(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("ALTER TABLE reports_submission ALTER COLUMN result SET COMPRESSION pglz")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_merge_0002_report_kind_0002_source_iccam"),
    ]

    operations = [migrations.RunPython(lz4, pglz, elidable=True)]
