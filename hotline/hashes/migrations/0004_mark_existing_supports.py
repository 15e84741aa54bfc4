"""Provenance for inherited verdicts made before it was recorded: the exact trusted matches that carry
each file's verdict become its supports."""

from typing import Any

from django.db import migrations
from django.db.models import F, Q


def mark(apps: Any, schema_editor: Any) -> None:
    MediaMatch = apps.get_model("hashes", "MediaMatch")
    (MediaMatch.objects.exclude(media__inherited_verdict="").exclude(signal_type="pdq")
     .filter(Q(bank__trusted=True) | Q(bank__kind="own"), distance=0, entry__verdict=F("media__inherited_verdict"))
     .update(inherited=True))


class Migration(migrations.Migration):
    dependencies = [("hashes", "0003_trust_provenance_quarantine_votes")]
    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
