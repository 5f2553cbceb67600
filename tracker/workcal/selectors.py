"""Reads of the working calendar for the API, the admin and the UI."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.workcal.calendar import Day, Schedule, WorkingCalendar


def calendar_year_days(*, year: int) -> tuple[str, list[Day]]:
    """How much is known of the year (a `Schedule`) and its non-standard days."""
    calendar = WorkingCalendar()
    return calendar.schedule(year), calendar.non_standard_days(year)


def calendar_day(*, day: date) -> Day:
    return WorkingCalendar().day(day)


def calendar_coming_year_warning(*, now: datetime | None = None) -> str | None:
    """A warning for staff while next year's calendar is only the library's estimate: the
    State Council publishes it each November or December, and it must then be loaded."""
    year = timezone.localtime(now or timezone.now()).year + 1
    schedule, days = calendar_year_days(year=year)
    if schedule != Schedule.ESTIMATE:
        return None
    if not days:
        return _(
            "The working calendar for %(year)d is missing: load the official schedule with "
            "`manage.py load_calendar_year`."
        ) % {"year": year}
    return _(
        "The working calendar for %(year)d is only an estimate: load the official schedule "
        "with `manage.py load_calendar_year` once the State Council publishes it."
    ) % {"year": year}
