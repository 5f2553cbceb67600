"""Channels now belong to `notifications` (its migration 0001): forget them here, state only.
The table `integrations_channel` and its rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_outbox_moved_to_notifications"),  # its outbox referred to Channel
        ("integrations", "0004_encrypted_channel_credentials"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Channel")],
        ),
    ]
