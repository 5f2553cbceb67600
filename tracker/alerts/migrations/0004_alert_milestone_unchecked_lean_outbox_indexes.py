"""Lighter writes for the deadline scan.

- Alerts keep to their nodes without a foreign key check (see `Alert.milestone`).
- One index of open problems serves both the resolution and the escalation step.
- The outbox loses an index the (status, created_at) one already serves, and indexes only the
  rows that have a channel.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# PostgreSQL only: SQLite (`make run`) has one writer at a time, so Django's cascade, which
# deletes a node's alerts before the node, cannot be overtaken by a scan; and SQLite drops a
# table's triggers whenever Django rebuilds the table to alter it.
DELETE_TRIGGER = """
CREATE FUNCTION alerts_delete_with_milestones() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM alerts_alert WHERE milestone_id IN (SELECT id FROM deleted_milestones);
    RETURN NULL;
END
$$;
CREATE TRIGGER alerts_delete_with_milestones
    AFTER DELETE ON milestones_milestone
    REFERENCING OLD TABLE AS deleted_milestones
    FOR EACH STATEMENT EXECUTE FUNCTION alerts_delete_with_milestones();
"""
DROP_DELETE_TRIGGER = """
DROP TRIGGER alerts_delete_with_milestones ON milestones_milestone;
DROP FUNCTION alerts_delete_with_milestones();
"""


def create_delete_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DELETE_TRIGGER)


def drop_delete_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_DELETE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_alert_recipients_outbox_dedupe_constraint"),
        ("integrations", "0003_calendarfeed_partial_unique"),
        ("milestones", "0002_lean_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="outboxmessage",
            name="alerts_outbox_held",
        ),
        migrations.AlterField(
            model_name="alert",
            name="milestone",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="alerts",
                to="milestones.milestone",
                verbose_name="milestone",
            ),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="channel",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="outbox_messages",
                to="integrations.channel",
                verbose_name="channel",
            ),
        ),
        migrations.AddIndex(
            model_name="outboxmessage",
            index=models.Index(
                condition=models.Q(("channel__isnull", False)),
                fields=["channel"],
                name="alerts_outbox_channel",
            ),
        ),
        migrations.RemoveIndex(
            model_name="alert",
            name="alerts_open_problems",
        ),
        migrations.RemoveIndex(
            model_name="alert",
            name="alerts_to_escalate",
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                models.Case(
                    models.When(
                        models.Q(("escalated_at__isnull", True), ("kind", "overdue")),
                        then=models.F("due_at"),
                    ),
                    output_field=models.DateTimeField(),
                ),
                condition=models.Q(
                    ("resolved_at__isnull", True), models.Q(("kind", "resolved"), _negated=True)
                ),
                name="alerts_open_problems",
            ),
        ),
        migrations.RunPython(create_delete_trigger, drop_delete_trigger),
    ]
