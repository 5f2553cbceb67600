"""Celery beat's scheduler: django-celery-beat's database schedule, whose minutes can be made
shorter (`BEAT_MINUTE_SECONDS`) to watch the whole schedule run in a short time.

Only the jobs that come every n minutes of every hour (`*` or `*/n` minutes, every hour, day
and month) speed up: they run every n × BEAT_MINUTE_SECONDS seconds. The daily, weekly and
monthly ones keep their clock times.
"""

from __future__ import annotations

import re
from datetime import timedelta

from celery import schedules
from django.conf import settings
from django_celery_beat import schedulers
from django_celery_beat.models import CrontabSchedule

EVERY_N_MINUTES = re.compile(r"\*(?:/(\d+))?")


def minutes_apart(crontab: CrontabSchedule | None) -> int | None:
    """n for a crontab that runs every n minutes of every hour, else None."""
    if crontab is None or {
        crontab.hour,
        crontab.day_of_week,
        crontab.day_of_month,
        crontab.month_of_year,
    } != {"*"}:
        return None
    match = EVERY_N_MINUTES.fullmatch(crontab.minute)
    return int(match[1] or 1) if match else None


class ModelEntry(schedulers.ModelEntry):
    def __init__(self, model, app=None) -> None:
        super().__init__(model, app)
        minutes = minutes_apart(model.crontab)
        if settings.BEAT_MINUTE_SECONDS != 60 and minutes is not None:
            seconds = minutes * settings.BEAT_MINUTE_SECONDS
            self.schedule = schedules.schedule(timedelta(seconds=seconds), app=self.app)


class DatabaseScheduler(schedulers.DatabaseScheduler):
    Entry = ModelEntry
