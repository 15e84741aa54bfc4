"""Exchange messages join the outbox (hotline.lib.outbox.OutboxRow): their message id becomes the outbox's
``key`` column, values kept (a rename, not a new field)."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("partners", "0002_exchange"),
    ]

    operations = [
        migrations.RenameField(model_name="outboundmessage", old_name="message_id", new_name="key"),
        migrations.AlterField(
            model_name="outboundmessage",
            name="key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
