"""The code table as the reference client seeds it (reference/ICCAM.md §4.4); `load_codes` refreshes names."""

from typing import Any

from django.db import migrations

SEED: dict[str, list[tuple[int, str, str]]] = {
    "classification": [(1, "Baseline CSAM", "baseline"), (2, "National CSAM", "national"), (4, "Ignore", "not_illegal")],
    "age": [(1, "Not categorised", "not_determined"), (2, "Infant", "infant_toddler"),
            (3, "Pre-pubescent", "prepubescent"), (4, "Pubescent", "pubescent")],
    "gender": [(1, "Not determined", "not_determined"), (2, "Female", "female"), (3, "Male", "male"), (4, "Both", "both")],
    "site_type": [(2, "Website", "website"), (3, "File host", "file_host"), (4, "Image store", "image_store"),
                  (5, "Image board", "image_board"), (6, "Forum", "forum"), (7, "Banner site", "banner_site"),
                  (8, "Link site", "link_site"), (9, "Social networking", "social_network"),
                  (10, "Redirector", "redirector"), (11, "Web archive", "web_archive"),
                  (18, "Search provider", "search_provider"), (20, "Image host", "image_host"), (22, "Blog", "blog"),
                  (24, "Not applicable", "not_applicable")],
    "commerciality": [(1, "Not determined", "not_determined"), (2, "Commercial", "commercial"),
                      (3, "Non-commercial", "non_commercial")],
    "payment_method": [(1, "Not determined", "")],
    "action_type": [(1, "ReportedToLEA", "to_police"), (2, "ReportedToISP", "to_host"), (3, "Removed", "removed"),
                    (4, "Unavailable", "unavailable"), (6, "NotIllegal", "not_illegal")],
    "reason": [(1, "Other", "other"), (2, "ContentNotFound", "content_not_found"),
               (3, "Referrer not known/incorrect", ""), (4, "Unable to access", "unable_to_access"),
               (5, "Password protected", "password_protected"), (6, "Account disabled", "account_disabled"),
               (7, "Legally unable to access", ""), (8, "Link expired", "link_expired"),
               (9, "HTTP 404 / site down", "site_down"), (10, "HTTP 503 / temporarily unavailable", "temporarily_unavailable"),
               (11, "Premium account needed", "premium_account"), (12, "Missing parts to open file", ""),
               (13, "Removed before assessment", "removed_before_assessment"),
               (14, "Adult pornography", "adult_pornography"), (15, "Nudism / not sexualised", "nudism"),
               (16, "Below the illegality threshold", "below_threshold"), (17, "Images too small", "images_too_small"),
               (18, "Virtual material", "virtual_material"), (19, "Linking / link lists not illegal", "linking"),
               (20, "Age unclear", "age_unclear"), (21, "Age over the national threshold", "age_over_threshold")],
}


def seed(apps: Any, schema_editor: Any) -> None:
    code = apps.get_model("iccam", "IccamCode")
    code.objects.bulk_create([code(field=field, iccam_id=i, name=name, our_code=our)
                              for field, rows in SEED.items() for i, name, our in rows])


class Migration(migrations.Migration):
    dependencies = [("iccam", "0001_connector")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
