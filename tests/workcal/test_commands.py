"""`load_calendar_year`: a year's official schedule from a file, all or nothing; and the admin's
warning while next year is only the library's estimate."""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from tracker.workcal.calendar import Schedule, WorkingCalendar
from tracker.workcal.models import CalendarOverride, OfficialDay, OfficialYear

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
DECEMBER_2026 = datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def load(path: Path, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("load_calendar_year", str(path), *args, stdout=out)
    return out.getvalue()


def test_loading_a_year_replaces_the_estimate():
    assert WorkingCalendar().is_working_day(date(2027, 10, 9)) is False  # estimate: a Saturday
    output = load(FIXTURES / "calendar_2027.csv")
    assert "2027: 20 days off, 4 make-up workdays" in output
    calendar = WorkingCalendar()
    assert calendar.schedule(2027) == Schedule.OFFICIAL
    assert calendar.is_working_day(date(2027, 10, 9)) is True
    assert calendar.is_working_day(date(2027, 10, 7)) is False
    assert calendar.is_working_day(date(2027, 6, 9)) is False
    assert calendar.is_working_day(date(2027, 2, 19)) is True
    assert calendar.day(date(2027, 9, 26)).name == "National Day make-up workday"
    assert calendar.add_working_days(date(2027, 10, 4), 0) == date(2027, 9, 30)
    days = {d.date: d for d in calendar.non_standard_days(2027)}
    assert date(2027, 2, 6) not in days  # a Saturday holiday is standard
    assert {d.source for d in days.values()} == {"official"}


def test_reloading_replaces_the_year_and_overrides_stay_on_top():
    load(FIXTURES / "calendar_2027.csv")
    CalendarOverride.objects.create(date=date(2027, 5, 3), kind="workday", name="Warehouse")
    load(FIXTURES / "calendar_2027.json", "--year", "2027")
    assert OfficialDay.objects.count() == 3
    calendar = WorkingCalendar()
    assert calendar.is_working_day(date(2027, 10, 1)) is True  # not in the new file
    assert calendar.is_working_day(date(2027, 5, 3)) is True  # the override wins
    assert calendar.is_working_day(date(2027, 5, 4)) is True


BAD_FILES = [
    (
        "bad-date.csv",
        "date,kind,name\n2027-01-01,holiday,New Year\n2027-02-30,holiday,Oops\n",
        ["line 3: “2027-02-30” is not a date (YYYY-MM-DD)."],
    ),
    (
        "bad-kind.csv",
        "date,kind,name\n2027-01-01,holiday,New Year\n\n2027-04-25,make-up,Oops\n",
        ["line 4: unknown kind “make-up” (holiday or workday)."],
    ),
    (
        "duplicate.csv",
        "date,kind,name\n2027-01-01,holiday,New Year\n2027-05-03,holiday,May\n"
        "2027-01-01,holiday,Again\n",
        ["line 4: 2027-01-01 is already on line 2."],
    ),
    (
        "weekday-workday.csv",
        "2027-01-01,holiday,New Year\n2027-01-04,workday,Monday\n",
        ["line 2: 2027-01-04 is a weekday; a make-up workday is a Saturday or Sunday."],
    ),
    (
        "two-years.csv",
        "2027-01-01,holiday,New Year\n2028-01-01,holiday,New Year\n",
        ["line 2: 2028-01-01 is not in 2027; load one year per file."],
    ),
    (
        "bad.json",
        '[\n  {"date": "2027-01-01", "kind": "holiday", "name": "A"},\n'
        '  {"date": "2027-1-2", "kind": "holiday", "name": "B"},\n'
        '  {"date": "2027-01-01", "kind": "dayoff", "name": "C"}\n]\n',
        [
            "line 3: “2027-1-2” is not a date (YYYY-MM-DD).",
            "line 4: unknown kind “dayoff” (holiday or workday).",
        ],
    ),
    ("empty.csv", "date,kind,name\n", ["The file lists no days."]),
]


@pytest.mark.parametrize(("name", "text", "messages"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_whole(tmp_path, name, text, messages):
    load(FIXTURES / "calendar_2027.csv")
    before = list(OfficialDay.objects.values_list("date", "kind", "name"))
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as error:
        load(path)
    for message in messages:
        assert message in str(error.value)
    assert list(OfficialDay.objects.values_list("date", "kind", "name")) == before


def test_a_file_of_another_year_is_refused():
    with pytest.raises(CommandError, match="is for 2027, not 2028"):
        load(FIXTURES / "calendar_2027.csv", "--year", "2028")
    assert not OfficialYear.objects.exists()


@time_machine.travel(DECEMBER_2026, tick=False)
def test_admin_warns_while_next_year_is_an_estimate(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    for url in ["/admin/", "/admin/workcal/calendaroverride/"]:
        page = client.get(url).content.decode()
        assert "The working calendar for 2027 is only an estimate" in page, url
    load(FIXTURES / "calendar_2027.csv")
    for url in ["/admin/", "/admin/workcal/calendaroverride/"]:
        assert "working calendar for 2027" not in client.get(url).content.decode()


@time_machine.travel(datetime(2025, 12, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_no_warning_when_the_library_knows_next_year(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    assert "working calendar for" not in client.get("/admin/").content.decode()
