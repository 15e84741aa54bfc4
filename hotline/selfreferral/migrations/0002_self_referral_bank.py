"""Create the self-referral hash bank: no verdict is ever inherited from it (not trusted), partner
and industry look-ups through the match API see it (shared_via_api)."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

NAME = "Self-referral (young people)"
PROVENANCE = ("hashes computed on young people's own devices (self-referral page); never seen by us; "
              "each referral confirmed by two analysts")


def create_bank(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    bank = apps.get_model("hashes", "Bank")
    bank.objects.get_or_create(name=NAME, defaults={
        "kind": "import", "trusted": False, "shared_via_api": True, "provenance": PROVENANCE})


class Migration(migrations.Migration):
    dependencies = [("selfreferral", "0001_referrals"), ("hashes", "0002_initial")]
    operations = [migrations.RunPython(create_bank, migrations.RunPython.noop)]
