"""Which days are worked, and arithmetic in working days and working hours.

A day's status comes from the strongest source that knows it:

1. an organisation override (`CalendarOverride`);
2. the official schedule of its year, when one was loaded with `load_calendar_year`;
3. the pinned `holidays` library's mainland China calendar (public holidays, substituted
   days off and make-up workdays, 调休);
4. Monday to Friday.

A `WorkingCalendar` reads each year it is asked about once (one small query) and
keeps it, so arithmetic over a whole project asks the database a few times, never once per day.
Make one per request, scan or command: it does not see overrides written after it read a year.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import CharField, Value
from django.utils import translation
from django.utils.translation import gettext as _
from holidays.countries.china import ChinaStaticHolidays

from tracker.workcal.models import CalendarOverride, DayKind, OfficialDay, RollRule

# Arithmetic gives up after this many days without working time (a calendar of only holidays).
MAX_SEARCH_DAYS = 3660
ONE_DAY = timedelta(days=1)


class Source:
    OVERRIDE = "override"
    OFFICIAL = "official"
    LIBRARY = "library"


class Schedule:
    """How much is known of a year."""

    OFFICIAL = "official"  # an official schedule was loaded from a file
    LIBRARY = "library"  # the library ships the State Council's schedule for the year
    ESTIMATE = "estimate"  # the library only estimates the year from the statutory rules


@dataclass(frozen=True)
class Day:
    date: date
    working: bool
    name: str | None = None
    kind: str | None = None  # DayKind, when a source says something about the day
    source: str | None = None

    @property
    def standard(self) -> bool:
        """Worked Monday to Friday, off at weekends, as any calendar would say."""
        return self.working == (self.date.weekday() < 5) and self.source != Source.OVERRIDE


@dataclass(frozen=True)
class WarRoom:
    """Days worked around the clock, whatever the calendar says (a campaign's D-day week)."""

    start: date
    end: date

    @classmethod
    def around(cls, day: date, *, before: int, after: int) -> WarRoom:
        """From D-`before` to D+`after`."""
        return cls(day - timedelta(days=before), day + timedelta(days=after))

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class WorkingHours:
    """The working periods of a working day, in one time zone."""

    periods: tuple[tuple[time, time], ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo | None = None) -> WorkingHours:
        """“09:00-12:00,13:00-18:00” → two periods; ValidationError on anything else."""
        periods = []
        for part in (p.strip() for p in (text or "").split(",")):
            try:
                start, end = (time.fromisoformat(t.strip()) for t in part.split("-"))
            except ValueError as exc:
                raise ValidationError(
                    _("“%(part)s” is not a period of working hours (HH:MM-HH:MM).") % {"part": part}
                ) from exc
            if start >= end or (periods and start < periods[-1][1]):
                raise ValidationError(
                    _("Working periods must each start before they end, in order: “%(text)s”.")
                    % {"text": text}
                )
            periods.append((start, end))
        return cls(tuple(periods), zone or ZoneInfo(settings.TIME_ZONE))

    def __str__(self) -> str:
        return ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)

    @property
    def per_day(self) -> timedelta:
        return sum(
            (
                datetime.combine(date.min, e) - datetime.combine(date.min, s)
                for s, e in self.periods
            ),
            timedelta(),
        )


@lru_cache(maxsize=8)
def _parse_default(text: str, zone: str) -> WorkingHours:
    try:
        return WorkingHours.parse(text, ZoneInfo(zone))
    except ValidationError as exc:
        raise ImproperlyConfigured(f"WORKING_HOURS: {exc.messages[0]}") from exc


def default_working_hours() -> WorkingHours:
    """The organisation's working hours (`WORKING_HOURS`, in `TIME_ZONE`)."""
    return _parse_default(settings.WORKING_HOURS, settings.TIME_ZONE)


def _library_language() -> str:
    return "zh_CN" if (translation.get_language() or "").startswith("zh") else "en_US"


@lru_cache(maxsize=64)
def _library_year(year: int, language: str) -> dict[date, tuple[str, str]]:
    """The library's days of a year: date → (kind, name). Holidays on weekends are kept for
    their names; make-up workdays have no name in the library."""
    china = holidays.China(years=year, language=language)
    days = {day: (DayKind.HOLIDAY, name) for day, name in china.items()}
    days.update((day, (DayKind.WORKDAY, "")) for day in china.weekend_workdays if day.year == year)
    return days


def base_name(name: str) -> str:
    """“National Day (observed)” → “National Day”: one name for a whole break."""
    return re.split(r" \(|（", name)[0]


def library_knows(year: int) -> bool:
    """Does the pinned library ship the official schedule of this year (not an estimate)?"""
    return year <= max(ChinaStaticHolidays.special_public_holidays)


class WorkingCalendar:
    """The working calendar, read a year at a time."""

    def __init__(self) -> None:
        self._years: dict[int, tuple[str, dict[date, Day]]] = {}

    def _year(self, year: int) -> tuple[str, dict[date, Day]]:
        if year not in self._years:
            self._years[year] = self._load(year)
        return self._years[year]

    def _load(self, year: int) -> tuple[str, dict[date, Day]]:
        """One query: the year's official days (a loaded year has at least one) and its
        overrides."""
        first, after = date(year, 1, 1), date(year + 1, 1, 1)
        rows = (
            OfficialDay.objects.filter(date__gte=first, date__lt=after)
            .order_by()  # SQLite allows no ORDER BY inside a UNION
            .values_list("date", "kind", "name", Value(Source.OFFICIAL, output_field=CharField()))
            .union(
                CalendarOverride.objects.filter(date__gte=first, date__lt=after)
                .order_by()
                .values_list(
                    "date", "kind", "name", Value(Source.OVERRIDE, output_field=CharField())
                ),
                all=True,
            )
        )
        official: dict[date, tuple[str, str]] = {}
        overrides: dict[date, tuple[str, str]] = {}
        for day, kind, name, source in rows:
            (official if source == Source.OFFICIAL else overrides)[day] = (kind, name)
        if official:
            schedule, source = Schedule.OFFICIAL, Source.OFFICIAL
            entries = official
        else:
            schedule = Schedule.LIBRARY if library_knows(year) else Schedule.ESTIMATE
            source, entries = Source.LIBRARY, _library_year(year, _library_language())
        days = {
            day: Day(day, kind == DayKind.WORKDAY, name or None, kind, source)
            for day, (kind, name) in entries.items()
        }
        days.update(
            (day, Day(day, kind == DayKind.WORKDAY, name, kind, Source.OVERRIDE))
            for day, (kind, name) in overrides.items()
        )
        return schedule, days

    def schedule(self, year: int) -> str:
        return self._year(year)[0]

    def day(self, day: date) -> Day:
        found = self._year(day.year)[1].get(day)
        if found is None:
            return Day(day, day.weekday() < 5)
        if found.kind == DayKind.WORKDAY and not found.name:
            return Day(day, True, _("Make-up workday"), found.kind, found.source)
        return found

    def non_standard_days(self, year: int) -> list[Day]:
        """The days of a year that are not Monday-to-Friday-as-usual, and every override."""
        days = (self.day(d) for d in sorted(self._year(year)[1]))
        return [d for d in days if not d.standard]

    # Days

    def is_working_day(self, day: date, war_room: WarRoom | None = None) -> bool:
        if war_room is not None and day in war_room:
            return True
        found = self._year(day.year)[1].get(day)
        return found.working if found is not None else day.weekday() < 5

    def roll(
        self, day: date, rule: str = RollRule.PREVIOUS, war_room: WarRoom | None = None
    ) -> date:
        """The day itself if it is worked, else the nearest working day before or after it."""
        step = -ONE_DAY if rule == RollRule.PREVIOUS else ONE_DAY
        for _n in range(MAX_SEARCH_DAYS):
            if self.is_working_day(day, war_room):
                return day
            day += step
        raise ValueError(f"No working day within {MAX_SEARCH_DAYS} days of {day}.")

    def add_working_days(
        self,
        day: date,
        count: int,
        *,
        rule: str = RollRule.PREVIOUS,
        war_room: WarRoom | None = None,
    ) -> date:
        """`count` working days after (before, when negative) `day`. Zero rolls `day` itself
        by `rule`; any other count lands on a working day by construction."""
        if count == 0:
            return self.roll(day, rule, war_room)
        step = ONE_DAY if count > 0 else -ONE_DAY
        remaining = abs(count)
        for _n in range(MAX_SEARCH_DAYS):
            day += step
            if self.is_working_day(day, war_room):
                remaining -= 1
                if not remaining:
                    return day
        raise ValueError(f"No working day within {MAX_SEARCH_DAYS} days.")

    def working_days_between(self, start: date, end: date, war_room: WarRoom | None = None) -> int:
        """Working days in (start, end], negative when end is before start: the slip of a node
        due on `start` and done on `end`, counted as a team would."""
        if end < start:
            return -self.working_days_between(end, start, war_room)
        return sum(
            self.is_working_day(start + ONE_DAY * n, war_room)
            for n in range(1, (end - start).days + 1)
        )

    # Hours

    def periods(
        self,
        day: date,
        working_hours: WorkingHours | None = None,
        war_room: WarRoom | None = None,
    ) -> list[tuple[datetime, datetime]]:
        """The working periods of one day as aware datetimes; the whole day in a war room."""
        hours = working_hours or default_working_hours()
        if war_room is not None and day in war_room:
            return [
                (
                    datetime.combine(day, time.min, tzinfo=hours.zone),
                    datetime.combine(day + ONE_DAY, time.min, tzinfo=hours.zone),
                )
            ]
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=hours.zone),
                datetime.combine(day, end, tzinfo=hours.zone),
            )
            for start, end in hours.periods
        ]

    def _periods_from(
        self,
        moment: datetime,
        working_hours: WorkingHours | None,
        war_room: WarRoom | None,
        forward: bool = True,
    ) -> Iterator[tuple[datetime, datetime]]:
        """Working periods, clipped to start at `moment` going forward (or to end at it going
        back), nearest first."""
        hours = working_hours or default_working_hours()
        day = moment.astimezone(hours.zone).date()
        step = ONE_DAY if forward else -ONE_DAY
        for _n in range(MAX_SEARCH_DAYS):
            periods = self.periods(day, hours, war_room)
            for start, end in periods if forward else reversed(periods):
                if forward and end > moment:
                    yield max(start, moment), end
                elif not forward and start < moment:
                    yield start, min(end, moment)
            day += step
        raise ValueError(f"No working time within {MAX_SEARCH_DAYS} days of {moment}.")

    def add_working_hours(
        self,
        moment: datetime,
        amount: timedelta,
        *,
        working_hours: WorkingHours | None = None,
        war_room: WarRoom | None = None,
    ) -> datetime:
        """The moment `amount` of working time after `moment` (before it, when negative).

        Friday 18:00 plus 16 working hours of 09:00–12:00, 13:00–18:00 is Tuesday 18:00.
        """
        if not amount:
            return moment
        forward = amount > timedelta()
        remaining = abs(amount)
        for start, end in self._periods_from(moment, working_hours, war_room, forward):
            if remaining <= end - start:
                return start + remaining if forward else end - remaining
            remaining -= end - start
        raise AssertionError("unreachable: _periods_from raises first")

    def working_time_between(
        self,
        start: datetime,
        end: datetime,
        *,
        working_hours: WorkingHours | None = None,
        war_room: WarRoom | None = None,
    ) -> timedelta:
        """The working time from `start` to `end`, negative when `end` is earlier."""
        if end < start:
            return -self.working_time_between(
                end, start, working_hours=working_hours, war_room=war_room
            )
        total = timedelta()
        for first, last in self._periods_from(start, working_hours, war_room):
            if first >= end:
                break
            total += min(last, end) - first
        return total

    def is_working_time(
        self,
        moment: datetime,
        *,
        working_hours: WorkingHours | None = None,
        war_room: WarRoom | None = None,
    ) -> bool:
        hours = working_hours or default_working_hours()
        day = moment.astimezone(hours.zone).date()
        return any(start <= moment < end for start, end in self.periods(day, hours, war_room))

    def next_working_start(
        self,
        moment: datetime,
        *,
        working_hours: WorkingHours | None = None,
        war_room: WarRoom | None = None,
    ) -> datetime:
        """`moment` if it is working time, else the start of the next working period."""
        start, _end = next(self._periods_from(moment, working_hours, war_room))
        return start

    def quiet_until(
        self,
        moment: datetime,
        *,
        working_hours: WorkingHours | None = None,
        war_room: WarRoom | None = None,
    ) -> datetime:
        """When a reminder due to go out at `moment` may go: at once in working time, in a war
        room or with `ALERTS_AT_ANY_HOUR`; otherwise at the start of the next working period."""
        if settings.ALERTS_AT_ANY_HOUR:
            return moment
        return self.next_working_start(moment, working_hours=working_hours, war_room=war_room)


def is_working_day(day: date, war_room: WarRoom | None = None) -> bool:
    return WorkingCalendar().is_working_day(day, war_room)


def add_working_days(
    day: date, count: int, *, rule: str = RollRule.PREVIOUS, war_room: WarRoom | None = None
) -> date:
    return WorkingCalendar().add_working_days(day, count, rule=rule, war_room=war_room)


def add_working_hours(
    moment: datetime,
    amount: timedelta,
    *,
    working_hours: WorkingHours | None = None,
    war_room: WarRoom | None = None,
) -> datetime:
    return WorkingCalendar().add_working_hours(
        moment, amount, working_hours=working_hours, war_room=war_room
    )


def next_working_start(
    moment: datetime,
    *,
    working_hours: WorkingHours | None = None,
    war_room: WarRoom | None = None,
) -> datetime:
    return WorkingCalendar().next_working_start(
        moment, working_hours=working_hours, war_room=war_room
    )
