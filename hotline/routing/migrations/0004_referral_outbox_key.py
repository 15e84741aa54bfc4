"""Police referrals join the outbox (hotline.lib.outbox.OutboxRow): ``key`` gets the outbox's default.

The column exists since 0003 (unique, filled by refer_items), so no row needs a new value."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0003_referral"),
    ]

    operations = [
        migrations.AlterField(
            model_name="referral",
            name="key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
