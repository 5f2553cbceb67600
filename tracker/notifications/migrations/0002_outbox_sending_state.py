"""Outbox messages are claimed before they are sent: the `sending` state and its claim time.
The beat's outbox sweep runs the task under its new name."""

from django.db import migrations, models

TASK_NAMES = ("alerts.outbox_flush", "notifications.outbox_flush")


def rename_task(apps, schema_editor, *, old: str, new: str) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=old).update(task=new)


def forwards(apps, schema_editor):
    rename_task(apps, schema_editor, old=TASK_NAMES[0], new=TASK_NAMES[1])


def backwards(apps, schema_editor):
    rename_task(apps, schema_editor, old=TASK_NAMES[1], new=TASK_NAMES[0])


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_default_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="claimed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="claimed at"
            ),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("held", "Held for the daily digest"),
                    ("merged", "Sent in a digest"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("skipped", "Skipped (nothing left to send)"),
                ],
                default="pending",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
