"""Report periods: ISO weeks and calendar months, Monday/1st 00:00 in TIME_ZONE, end exclusive."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from tracker.reports.periods import month_period, parse_month, parse_week, week_period

SHANGHAI = ZoneInfo("Asia/Shanghai")
SH = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def shanghai(settings):
    settings.TIME_ZONE = SH


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def midnight(day: date) -> datetime:
    return local(day.year, day.month, day.day)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "monday", "next_monday"),
    [
        pytest.param("2026-W47", date(2026, 11, 16), date(2026, 11, 23), id="plain"),
        pytest.param("2026-W46", date(2026, 11, 9), date(2026, 11, 16), id="double-11-week"),
        # ISO week 1 of 2026 starts on Monday 29 December 2025.
        pytest.param("2026-W01", date(2025, 12, 29), date(2026, 1, 5), id="w01-in-old-year"),
        # 2026 starts on a Thursday, so it has a week 53, which ends in 2027.
        pytest.param("2026-W53", date(2026, 12, 28), date(2027, 1, 4), id="w53-into-new-year"),
        pytest.param("2020-W53", date(2020, 12, 28), date(2021, 1, 4), id="w53-leap-year"),
    ],
)
def test_parse_week(value, monday, next_monday):
    period = parse_week(value)
    assert (period.kind, period.label) == ("week", value)
    assert (period.start, period.end) == (midnight(monday), midnight(next_monday))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("2026-47", "Give the week as YYYY-Www", id="no-W"),
        pytest.param("2026W47", "Give the week as YYYY-Www", id="no-dash"),
        pytest.param("2026-w47", "Give the week as YYYY-Www", id="lower-case-w"),
        pytest.param("26-W47", "Give the week as YYYY-Www", id="two-digit-year"),
        pytest.param("2026-W7", "Give the week as YYYY-Www", id="one-digit-week"),
        pytest.param("2026-W047", "Give the week as YYYY-Www", id="three-digit-week"),
        pytest.param(" 2026-W47", "Give the week as YYYY-Www", id="leading-space"),
        pytest.param("2026-W47\n", "Give the week as YYYY-Www", id="trailing-newline"),
        pytest.param("2026-11", "Give the week as YYYY-Www", id="a-month"),
        pytest.param("", "Give the week as YYYY-Www", id="empty"),
        pytest.param(None, "Give the week as YYYY-Www", id="none"),
        pytest.param("2025-W53", "2025 has no ISO week 53.", id="w53-of-a-52-week-year"),
        pytest.param("2026-W54", "2026 has no ISO week 54.", id="w54"),
        pytest.param("2026-W00", "2026 has no ISO week 0.", id="w00"),
        pytest.param("0000-W01", "0 has no ISO week 1.", id="year-zero"),
        pytest.param("9999-W52", "9999 has no ISO week 52.", id="ends-after-year-9999"),
    ],
)
def test_parse_week_rejects(value, message):
    with pytest.raises(ValidationError) as excinfo:
        parse_week(value)
    assert message in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        pytest.param("2026-11", local(2026, 11, 1), local(2026, 12, 1), id="november"),
        pytest.param("2026-12", local(2026, 12, 1), local(2027, 1, 1), id="december-into-new-year"),
        pytest.param("2026-01", local(2026, 1, 1), local(2026, 2, 1), id="january"),
        pytest.param("2028-02", local(2028, 2, 1), local(2028, 3, 1), id="leap-february"),
        pytest.param("9999-11", local(9999, 11, 1), local(9999, 12, 1), id="last-whole-month"),
    ],
)
def test_parse_month(value, start, end):
    period = parse_month(value)
    assert (period.kind, period.label, period.start, period.end) == ("month", value, start, end)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("2026-13", "Give the month as YYYY-MM", id="month-13"),
        pytest.param("2026-00", "Give the month as YYYY-MM", id="month-0"),
        pytest.param("2026-1", "Give the month as YYYY-MM", id="one-digit"),
        pytest.param("2026/11", "Give the month as YYYY-MM", id="slash"),
        pytest.param("11-2026", "Give the month as YYYY-MM", id="month-first"),
        pytest.param("2026-11-01", "Give the month as YYYY-MM", id="a-date"),
        pytest.param("2026-W47", "Give the month as YYYY-MM", id="a-week"),
        pytest.param("2026-11\n", "Give the month as YYYY-MM", id="trailing-newline"),
        pytest.param("", "Give the month as YYYY-MM", id="empty"),
        pytest.param(None, "Give the month as YYYY-MM", id="none"),
        pytest.param("0000-01", "outside the calendar", id="year-zero"),
        pytest.param("9999-12", "outside the calendar", id="ends-after-year-9999"),
    ],
)
def test_parse_month_rejects(value, message):
    with pytest.raises(ValidationError) as excinfo:
        parse_month(value)
    assert message in excinfo.value.messages[0]


def test_periods_start_at_local_midnight_not_utc_midnight():
    """Monday 00:00 in Shanghai is Sunday 16:00 UTC: the period is anchored to TIME_ZONE."""
    week = parse_week("2026-W47")
    assert week.start == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    month = parse_month("2026-11")
    assert month.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)


def test_periods_follow_time_zone_setting(settings):
    settings.TIME_ZONE = "UTC"
    assert parse_week("2026-W47").start == datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    assert parse_month("2026-11").start == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "zone", "label"),
    [
        # Sunday 20:00 UTC is already Monday 04:00 in Shanghai: the next week there.
        pytest.param(utc(2026, 11, 15, 20), SH, "2026-W47", id="sun-20h-utc-in-shanghai"),
        pytest.param(utc(2026, 11, 15, 20), "UTC", "2026-W46", id="sun-20h-utc-in-utc"),
        pytest.param(utc(2026, 11, 15, 15, 59), SH, "2026-W46", id="sun-23h59-shanghai"),
        pytest.param(utc(2026, 11, 15, 16), SH, "2026-W47", id="mon-00h00-shanghai"),
        pytest.param(local(2026, 11, 22, 23, 59), SH, "2026-W47", id="local-sunday-night"),
        pytest.param(date(2027, 1, 1), SH, "2026-W53", id="new-year-day-in-w53"),
        pytest.param(date(2025, 12, 31), SH, "2026-W01", id="new-year-eve-in-w01"),
    ],
)
def test_week_of_a_moment(settings, moment, zone, label):
    settings.TIME_ZONE = zone
    assert week_period(moment).label == label


def test_month_of_a_moment():
    # 31 October 16:00 UTC is 1 November 00:00 in Shanghai.
    assert month_period(datetime(2026, 10, 31, 16, 0, tzinfo=UTC)).label == "2026-11"
    assert month_period(datetime(2026, 10, 31, 15, 59, tzinfo=UTC)).label == "2026-10"


@pytest.mark.parametrize(
    ("period", "previous"),
    [
        pytest.param("2026-W47", "2026-W46", id="week"),
        pytest.param("2026-W01", "2025-W52", id="week-across-new-year"),
        pytest.param("2027-W01", "2026-W53", id="week-after-w53"),
        pytest.param("2026-11", "2026-10", id="month"),
        pytest.param("2026-01", "2025-12", id="month-across-new-year"),
    ],
)
def test_previous(period, previous):
    parse = parse_week if "W" in period else parse_month
    assert parse(period).previous() == parse(previous)
