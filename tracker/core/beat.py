"""Celery beat's scheduler: django-celery-beat's database schedule, with

- **one run per task and period**: before it sends a task, beat claims the period's run
  (`tracker.core.periodic`), so a second beat by mistake (two `make serve`, a unit on two
  hosts) sends nothing twice; its claim is a no-op logged at debug;
- **`expires`**: a task sent for a period expires when the next one is due (unless the
  schedule's row sets its own expiry), so while no worker runs, the queue holds the latest run
  of each job rather than one per minute of the outage;
- **shorter minutes** (`BEAT_MINUTE_SECONDS`), to watch the whole schedule run in a short time.
  Only the jobs that come every n minutes of every hour (`*` or `*/n` minutes, every hour, day
  and month) speed up: they run every n × BEAT_MINUTE_SECONDS seconds. The daily, weekly and
  monthly ones keep their clock times.

A period is the interval of an interval schedule (every 30 seconds: :00–:30, :30–:60), and the
minute for a crontab, which never comes twice in one minute: both beats send the 09:00 report
within seconds of 09:00, in the same period. Periods are claimed in the database, not in Redis,
so this holds in `make run` (SQLite, no Redis) as in production.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from celery import schedules
from celery.utils.time import maybe_make_aware
from django.conf import settings
from django.utils import timezone
from django_celery_beat import schedulers
from django_celery_beat.models import CrontabSchedule

from tracker.core.periodic import periodic_run_claim, periodic_run_release

EVERY_N_MINUTES = re.compile(r"\*(?:/(\d+))?")
MINUTE = timedelta(minutes=1)


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


def period_length(schedule: schedules.BaseSchedule) -> timedelta:
    """How long one period of `schedule` lasts: its interval, or a minute for a crontab (and any
    other kind of schedule)."""
    run_every = getattr(schedule, "run_every", None)
    if not isinstance(schedule, schedules.crontab) and isinstance(run_every, timedelta):
        return max(run_every, timedelta(seconds=1))
    return MINUTE


def period_start(schedule: schedules.BaseSchedule, at: datetime) -> datetime:
    """The start of the period `at` falls in: periods are counted from the Unix epoch, so every
    beat finds the same one."""
    length = period_length(schedule).total_seconds()
    seconds = at.timestamp()
    return datetime.fromtimestamp(seconds - seconds % length, tz=UTC)


def due_at(entry: schedulers.ModelEntry, now: datetime) -> datetime:
    """When `entry`'s run fell due: for an interval, its last run plus the interval (so one
    beat's runs, at least an interval apart, always fall in different periods, however late
    each is sent); for a crontab, now, within a minute of its time."""
    run_every = getattr(entry.schedule, "run_every", None)
    if isinstance(entry.schedule, schedules.crontab) or not isinstance(run_every, timedelta):
        return now
    return min(maybe_make_aware(entry.last_run_at) + run_every, now)


def until_next_run(schedule: schedules.BaseSchedule, now: datetime) -> float:
    """Seconds from `now`, a run, to the next run of `schedule` (at least one)."""
    return max(schedule.remaining_estimate(now).total_seconds(), 1.0)


class ModelEntry(schedulers.ModelEntry):
    def __init__(self, model, app=None) -> None:
        super().__init__(model, app)
        minutes = minutes_apart(model.crontab)
        if settings.BEAT_MINUTE_SECONDS != 60 and minutes is not None:
            seconds = minutes * settings.BEAT_MINUTE_SECONDS
            self.schedule = schedules.schedule(timedelta(seconds=seconds), app=self.app)
        self.expires_set = "expires" in self.options  # the admin's expiry wins


class DatabaseScheduler(schedulers.DatabaseScheduler):
    Entry = ModelEntry

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        """Send `entry`'s task unless a run for this period was already sent (by another
        beat); it expires when its next run is due."""
        now = timezone.now()
        start = period_start(entry.schedule, due_at(entry, now))
        if not periodic_run_claim(task=entry.name, period_start=start, now=now):
            return None
        if not getattr(entry, "expires_set", False):
            entry.options["expires"] = until_next_run(entry.schedule, now)
        try:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        except Exception:
            periodic_run_release(task=entry.name, period_start=start)
            raise
