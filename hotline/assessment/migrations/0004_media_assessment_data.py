"""Existing assessments become per-media rows: each good media file of the item's capture at the time
gets the item's classification (what the analyst said about the page applied to every file on it).
Unreachable and other-harm verdicts, and items without media, stay item-level only."""

from typing import Any

from django.db import migrations

PER_MEDIA = ("baseline", "national", "not_illegal")
COPIED = ("legal_limb", "content_type", "age_group", "gender", "is_virtual", "is_manipulated",
          "is_self_generated", "is_child_modelling", "reason")


def _capture(capture_model: Any, assessment: Any) -> Any:
    captured = capture_model.objects.filter(item_id=assessment.item_id, outcome="captured")
    return (captured.filter(started_at__lte=assessment.created_at).order_by("-started_at", "-pk").first()
            or captured.order_by("-started_at", "-pk").first())


def forwards(apps: Any, schema_editor: Any) -> None:
    assessment_model = apps.get_model("assessment", "Assessment")
    row_model = apps.get_model("assessment", "MediaAssessment")
    capture_model = apps.get_model("evidence", "Capture")
    media_model = apps.get_model("evidence", "Media")
    rows = []
    for assessment in assessment_model.objects.filter(verdict__in=PER_MEDIA).order_by("pk").iterator():
        capture = _capture(capture_model, assessment)
        if capture is None:
            continue
        for media in media_model.objects.filter(capture=capture, is_bad=False).exclude(sha256="").order_by("pk"):
            inherited = assessment.inherited and bool(media.inherited_verdict)
            values = {name: getattr(assessment, name) for name in COPIED}
            rows.append(row_model(assessment_id=assessment.pk, media_id=media.pk, verdict=(
                media.inherited_verdict if inherited else assessment.verdict), inherited=inherited,
                inherited_from=media.inherited_from if inherited else "", **values))
        if len(rows) >= 2000:
            row_model.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    row_model.objects.bulk_create(rows, ignore_conflicts=True)


def backwards(apps: Any, schema_editor: Any) -> None:
    apps.get_model("assessment", "MediaAssessment").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("assessment", "0003_media_assessment"),
        ("evidence", "0002_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
