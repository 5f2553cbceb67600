"""The outbox now belongs to `notifications` (its migration 0001): forget it here, state only.
The table `alerts_outboxmessage` and its rows stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_alert_milestone_unchecked_lean_outbox_indexes"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OutboxMessage")],
        ),
    ]
