"""Report periods: ISO weeks and calendar months, in the configured time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    kind: str  # "week" | "month"
    label: str  # "2026-W47" | "2026-11"
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware

    def previous(self) -> Period:
        if self.kind == "week":
            return week_period(timezone.localtime(self.start) - timedelta(days=7))
        return month_period(timezone.localtime(self.start) - timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def week_period(moment: datetime | date) -> Period:
    """The ISO week containing `moment` (a local date or an aware datetime)."""
    day = timezone.localtime(moment).date() if isinstance(moment, datetime) else moment
    monday = day - timedelta(days=day.isoweekday() - 1)
    year, week, _weekday = monday.isocalendar()
    return Period(
        "week", f"{year}-W{week:02d}", _midnight(monday), _midnight(monday + timedelta(7))
    )


def month_period(moment: datetime | date) -> Period:
    day = timezone.localtime(moment).date() if isinstance(moment, datetime) else moment
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period("month", f"{first:%Y-%m}", _midnight(first), _midnight(following))


def parse_week(value: str) -> Period:
    """'2026-W47' → that ISO week; a clear ValidationError for anything else."""
    match = WEEK_PATTERN.fullmatch(value or "")
    if not match:
        raise ValidationError(_("Give the week as YYYY-Www, for example 2026-W47."))
    year, week = int(match[1]), int(match[2])
    try:
        # OverflowError: the week after 9999-W52 is past the last date Python knows.
        return week_period(date.fromisocalendar(year, week, 1))
    except (ValueError, OverflowError) as exc:
        raise ValidationError(
            _("%(year)s has no ISO week %(week)s.") % {"year": year, "week": week}
        ) from exc


def parse_month(value: str) -> Period:
    """'2026-11' → that calendar month; a clear ValidationError for anything else."""
    match = MONTH_PATTERN.fullmatch(value or "")
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValidationError(_("Give the month as YYYY-MM, for example 2026-11."))
    try:
        # ValueError: year 0; OverflowError: the month after 9999-12.
        return month_period(date(int(match[1]), int(match[2]), 1))
    except (ValueError, OverflowError) as exc:
        raise ValidationError(
            _("%(value)s is outside the calendar Milepost can report on.") % {"value": value}
        ) from exc
