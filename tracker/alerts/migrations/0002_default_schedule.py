"""The default beat schedule, in TIME_ZONE. Rows are created only when missing, so times an
admin has edited survive; reversing removes them."""

from django.conf import settings
from django.db import migrations

# name: (task, minute, hour, day_of_week, day_of_month)
SCHEDULE = {
    "Overdue scan": ("alerts.scan_overdue", "*", "*", "*", "*"),
    "Due-soon scan": ("alerts.scan_due_soon", "*/15", "*", "*", "*"),
    # Named alerts.outbox_flush until the outbox moved to notifications (its migration 0002).
    "Outbox sweep": ("notifications.outbox_flush", "*", "*", "*", "*"),
    "Daily alert digest": ("alerts.send_digests", "0", "8", "*", "*"),
    "Weekly report": ("reports.weekly", "0", "9", "1", "*"),
    "Monthly report": ("reports.monthly", "0", "9", "*", "1"),
}


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, minute, hour, day_of_week, day_of_month) in SCHEDULE.items():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month=day_of_month,
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True}
        )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
