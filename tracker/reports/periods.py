"""Report periods: ISO weeks and calendar months, in the configured time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodKind(models.TextChoices):
    """The one name of a report's period kind. Its value ("week", "month") is stored in
    snapshots and names the period's query parameter; its `adjective` ("weekly", "monthly")
    names the report's pages, API routes, exports and tasks."""

    WEEK = "week", gettext_lazy("Week")
    MONTH = "month", gettext_lazy("Month")

    @property
    def adjective(self) -> str:
        return f"{self.value}ly"

    @classmethod
    def from_adjective(cls, word: str) -> PeriodKind:
        return next(kind for kind in cls if kind.adjective == word)


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    label: str  # "2026-W47" | "2026-11"
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware

    def previous(self) -> Period:
        if self.kind == PeriodKind.WEEK:
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
        PeriodKind.WEEK, f"{year}-W{week:02d}", _midnight(monday), _midnight(monday + timedelta(7))
    )


def month_period(moment: datetime | date) -> Period:
    day = timezone.localtime(moment).date() if isinstance(moment, datetime) else moment
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(PeriodKind.MONTH, f"{first:%Y-%m}", _midnight(first), _midnight(following))


def period_containing(kind: str, moment: datetime | date) -> Period:
    """The week or month (by `kind`) that contains `moment`."""
    return week_period(moment) if kind == PeriodKind.WEEK else month_period(moment)


def default_period(kind: str, now: datetime) -> Period:
    """The period a report shows when none is asked for: the current week (weekly monitoring),
    but the last complete month (the monthly analysis looks back; the month under way is
    one click further)."""
    current = period_containing(kind, now)
    return current if kind == PeriodKind.WEEK else current.previous()


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


def parse_period(kind: str, value: str) -> Period:
    """A week label for a weekly report, a month label for a monthly one."""
    return parse_week(value) if kind == PeriodKind.WEEK else parse_month(value)
