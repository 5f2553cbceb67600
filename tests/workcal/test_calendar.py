"""Working-day and working-hour arithmetic across 2026's holiday edges (the pinned `holidays`
library's data), with organisation overrides and a war-room window."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from tracker.workcal.calendar import (
    Schedule,
    WarRoom,
    WorkingCalendar,
    WorkingHours,
    library_knows,
    next_working_start,
)
from tracker.workcal.models import CalendarOverride, DayKind, RollRule

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
PREV, NEXT = RollRule.PREVIOUS, RollRule.NEXT
D11_WAR_ROOM = WarRoom(date(2026, 11, 8), date(2026, 11, 14))  # D-3 to D+3 of Double 11


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def calendar():
    return WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # New Year: Jan 1–3 off, Sunday Jan 4 worked.
        ("2025-12-31", True),
        ("2026-01-01", False),
        ("2026-01-02", False),
        ("2026-01-03", False),
        ("2026-01-04", True),
        ("2026-01-05", True),
        # Spring Festival: Feb 15–23 off, Saturdays Feb 14 and Feb 28 worked.
        ("2026-02-13", True),
        ("2026-02-14", True),
        ("2026-02-15", False),
        ("2026-02-16", False),
        ("2026-02-20", False),
        ("2026-02-21", False),
        ("2026-02-23", False),
        ("2026-02-24", True),
        ("2026-02-28", True),
        ("2026-03-01", False),
        # May Day: May 1–5 off, Saturday May 9 worked.
        ("2026-04-30", True),
        ("2026-05-01", False),
        ("2026-05-04", False),
        ("2026-05-05", False),
        ("2026-05-06", True),
        ("2026-05-09", True),
        ("2026-05-10", False),
        # National Day: Oct 1–7 off, Sunday Sep 20 and Saturday Oct 10 worked.
        ("2026-09-19", False),
        ("2026-09-20", True),
        ("2026-09-25", False),  # Mid-Autumn Festival
        ("2026-09-30", True),
        ("2026-10-01", False),
        ("2026-10-02", False),
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),
        ("2026-10-11", False),
        # An ordinary week.
        ("2026-11-07", False),
        ("2026-11-09", True),
    ],
)
def test_is_working_day(calendar, day, working):
    assert calendar.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("day", "count", "rule", "expected"),
    [
        ("2026-10-02", 0, PREV, "2026-09-30"),  # National Day → the day before the break
        ("2026-10-02", 0, NEXT, "2026-10-08"),
        ("2026-10-08", 0, PREV, "2026-10-08"),  # a working day stays
        ("2026-10-08", -1, PREV, "2026-09-30"),
        ("2026-10-09", 1, PREV, "2026-10-10"),  # the make-up Saturday counts
        ("2026-09-18", 1, PREV, "2026-09-20"),  # the make-up Sunday counts
        ("2026-09-30", 2, PREV, "2026-10-09"),
        ("2025-12-31", 1, PREV, "2026-01-04"),
        ("2026-01-04", -1, PREV, "2025-12-31"),
        ("2026-02-13", 1, PREV, "2026-02-14"),
        ("2026-02-14", 1, PREV, "2026-02-24"),
        ("2026-02-24", -1, PREV, "2026-02-14"),
        ("2026-02-27", 1, PREV, "2026-02-28"),
        ("2026-02-17", 0, PREV, "2026-02-14"),
        ("2026-02-17", 0, NEXT, "2026-02-24"),
        ("2026-05-02", 0, PREV, "2026-04-30"),
        ("2026-04-30", 1, PREV, "2026-05-06"),
        ("2026-05-08", 1, PREV, "2026-05-09"),
        ("2026-11-11", -5, PREV, "2026-11-04"),
        ("2026-11-11", 3, PREV, "2026-11-16"),
    ],
)
def test_add_working_days(calendar, day, count, rule, expected):
    result = calendar.add_working_days(date.fromisoformat(day), count, rule=rule)
    assert result == date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-09-30", "2026-10-08", 1),
        ("2026-09-30", "2026-10-10", 3),
        ("2026-10-10", "2026-09-30", -3),
        ("2026-11-11", "2026-11-11", 0),
        ("2026-02-13", "2026-02-24", 2),
    ],
)
def test_working_days_between(calendar, start, end, expected):
    assert (
        calendar.working_days_between(date.fromisoformat(start), date.fromisoformat(end))
        == expected
    )


@pytest.mark.parametrize(
    ("kind", "day", "count", "rule", "expected"),
    [
        # The company takes Sep 30 off too: the node before National Day moves to Sep 29.
        (DayKind.HOLIDAY, "2026-09-30", 0, PREV, "2026-09-29"),
        # The warehouse works Saturday Oct 3.
        (DayKind.WORKDAY, "2026-10-03", 0, NEXT, "2026-10-03"),
        (DayKind.WORKDAY, "2026-10-03", 1, PREV, "2026-10-03"),
        # An override that lifts a library holiday.
        (DayKind.WORKDAY, "2026-10-02", 0, PREV, "2026-10-02"),
    ],
)
def test_overrides_win_over_the_library(kind, day, count, rule, expected):
    CalendarOverride.objects.create(date=date.fromisoformat(day), kind=kind, name="Company")
    result = WorkingCalendar().add_working_days(date(2026, 10, 2), count, rule=rule)
    assert result == date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("day", "count", "expected", "expected_in_war_room"),
    [
        ("2026-11-06", 1, "2026-11-09", "2026-11-08"),  # Sunday D-3 is worked in the war room
        ("2026-11-13", 1, "2026-11-16", "2026-11-14"),
        ("2026-11-14", 1, "2026-11-16", "2026-11-16"),  # Sunday D+4 is outside it
        ("2026-11-15", 0, "2026-11-13", "2026-11-14"),
    ],
)
def test_war_room_days_are_worked(calendar, day, count, expected, expected_in_war_room):
    start = date.fromisoformat(day)
    assert calendar.add_working_days(start, count) == date.fromisoformat(expected)
    assert calendar.add_working_days(start, count, war_room=D11_WAR_ROOM) == date.fromisoformat(
        expected_in_war_room
    )


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Friday 18:00 with a 16-working-hour escalation: Tuesday 18:00, not Sunday.
        ("2026-11-06 18:00", 16, "2026-11-10 18:00"),
        ("2026-11-06 18:00", 8, "2026-11-09 18:00"),
        ("2026-11-06 18:00", 1, "2026-11-09 10:00"),
        ("2026-11-09 11:30", 1, "2026-11-09 13:30"),  # the lunch break does not count
        ("2026-11-09 12:30", 1, "2026-11-09 14:00"),
        ("2026-11-09 07:00", 3, "2026-11-09 12:00"),
        # Across National Day and onto the make-up Saturday.
        ("2026-09-30 18:00", 8, "2026-10-08 18:00"),
        ("2026-10-09 17:00", 2, "2026-10-10 10:00"),
        ("2026-09-18 18:00", 8, "2026-09-20 18:00"),
        ("2026-02-13 18:00", 9, "2026-02-24 10:00"),  # via Saturday Feb 14, past the break
        ("2025-12-31 17:00", 2, "2026-01-04 10:00"),
        # Backwards: the reminder point before a due date.
        ("2026-11-10 18:00", -16, "2026-11-09 09:00"),
        ("2026-10-08 10:00", -2, "2026-09-30 17:00"),
        ("2026-11-09 13:00", 0, "2026-11-09 13:00"),
    ],
)
def test_add_working_hours(calendar, start, hours, expected):
    assert calendar.add_working_hours(at(start), timedelta(hours=hours)) == at(expected)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Friday evening and Saturday are outside; Sunday D-3 counts around the clock.
        ("2026-11-06 18:00", 16, "2026-11-08 16:00"),
        ("2026-11-08 20:00", 16, "2026-11-09 12:00"),
        ("2026-11-14 20:00", 8, "2026-11-16 14:00"),  # 4 h Saturday night, then Monday
    ],
)
def test_add_working_hours_in_a_war_room(calendar, start, hours, expected):
    assert calendar.add_working_hours(
        at(start), timedelta(hours=hours), war_room=D11_WAR_ROOM
    ) == at(expected)


def test_project_working_hours(calendar):
    hours = WorkingHours.parse("10:00-19:00")
    assert hours.per_day == timedelta(hours=9)
    assert calendar.add_working_hours(
        at("2026-11-06 18:00"), timedelta(hours=2), working_hours=hours
    ) == at("2026-11-09 11:00")


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-11-06 17:00", "2026-11-09 10:00", 2),
        ("2026-11-09 09:00", "2026-11-09 18:00", 8),
        ("2026-09-30 12:00", "2026-10-08 12:00", 8),
        ("2026-10-08 12:00", "2026-09-30 12:00", -8),
    ],
)
def test_working_time_between(calendar, start, end, hours):
    assert calendar.working_time_between(at(start), at(end)) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-09 10:00", "2026-11-09 10:00"),
        ("2026-11-09 12:30", "2026-11-09 13:00"),
        ("2026-11-09 18:00", "2026-11-10 09:00"),
        ("2026-10-03 10:00", "2026-10-08 09:00"),
        ("2026-02-13 19:00", "2026-02-14 09:00"),  # the make-up Saturday
    ],
)
def test_next_working_start(moment, expected):
    assert next_working_start(at(moment)) == at(expected)


def test_quiet_hours_and_the_switch(calendar, settings):
    sunday_night = at("2026-11-08 23:00")
    assert calendar.quiet_until(sunday_night) == at("2026-11-09 09:00")
    assert calendar.quiet_until(sunday_night, war_room=D11_WAR_ROOM) == sunday_night
    settings.ALERTS_AT_ANY_HOUR = True
    assert calendar.quiet_until(sunday_night) == sunday_night


@pytest.mark.parametrize(
    "text", ["9-12", "09:00-12:00,11:00-18:00", "18:00-09:00", "", "09:00-12:00;13:00-18:00"]
)
def test_bad_working_hours_are_refused(text):
    with pytest.raises(ValidationError):
        WorkingHours.parse(text)


def test_a_year_is_read_once(django_assert_num_queries):
    calendar = WorkingCalendar()
    with django_assert_num_queries(1):  # the year's official days and overrides, at once
        start = calendar.add_working_days(date(2026, 1, 1), 200)
        calendar.add_working_hours(at("2026-01-05 09:00"), timedelta(hours=800))
    assert start.year == 2026


def test_library_knows_2026_and_only_estimates_2027(calendar):
    # Pinned holidays==0.108: the State Council's 2026 schedule, and an estimate for 2027.
    assert library_knows(2026) and not library_knows(2027)
    assert calendar.schedule(2026) == Schedule.LIBRARY
    assert calendar.schedule(2027) == Schedule.ESTIMATE
