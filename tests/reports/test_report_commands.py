"""`weekly_report` and `monthly_report`: print the selectors' numbers, or store and send."""

import json
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from tests.alerts.support import Team, make_team, manage_py
from tests.reports.test_snapshots import AFTER, WEEK, week_of_work
from tracker.milestones.models import MilestoneStatus
from tracker.notifications.models import OutboxMessage
from tracker.reports.models import ReportSnapshot
from tracker.reports.periods import parse_month
from tracker.reports.selectors import deviation_report, monthly_report
from tracker.reports.services import report_to_json


@pytest.fixture
def team(db) -> Team:
    return make_team(baselined=True)


def run(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(AFTER, tick=False):
        call_command(*args, stdout=out)
    return out.getvalue()


def cells(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_weekly_report_prints_the_selectors_numbers(team):
    week_of_work(team)
    text = run("weekly_report", "--week", "2026-W46")
    report = deviation_report(period=WEEK, as_of=AFTER)
    assert text.splitlines()[:6] == [
        "2026-W46 (all projects)",
        "Period: 2026-11-09 00:00 – 2026-11-16 00:00",
        "As of: 2026-11-16 09:00",
        "Due: 3  on time: 1  late: 1  open overdue: 1",
        "Deviation rate: 66.7% (threshold 10.0%)  ABOVE THRESHOLD",
        f"Mean slip: {report['mean_slip_days']:.2f} days",
    ]
    slip = f"{report['mean_slip_days']:.2f}"
    assert ["Merchandising", "3", "1", "1", "1", "66.7%", slip] in cells(text)
    assert ["Double", "11", "3", "1", "1", "1", "66.7%", slip] in cells(text)
    assert "Stock check · Double 11 · merch: 4.62 days" in text
    assert not ReportSnapshot.objects.exists()  # printing stores and sends nothing
    assert not OutboxMessage.objects.exists()


def test_weekly_report_json_is_the_selectors_report(team):
    week_of_work(team)
    data = json.loads(run("weekly_report", "--week", "2026-W46", "--json"))
    assert data == report_to_json(deviation_report(period=WEEK, as_of=AFTER))


def test_scopes(team):
    week_of_work(team)
    by_project = json.loads(
        run("weekly_report", "--week", "2026-W46", "--json", "--project", str(team.project.pk))
    )
    assert by_project == report_to_json(
        deviation_report(period=WEEK, as_of=AFTER, project_id=team.project.pk)
    )
    by_department = run("weekly_report", "--week", "2026-W46", "--department", "merch")
    assert by_department.startswith("2026-W46 (Merchandising)")


def test_monthly_report_prints_the_weekly_trend(team):
    week_of_work(team)
    out = StringIO()
    after = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(after, tick=False):
        call_command("monthly_report", "--month", "2026-11", stdout=out)
        data = report_to_json(monthly_report(period=parse_month("2026-11"), as_of=after))
    text = out.getvalue()
    assert "Weekly trend" in text
    assert ["2026-W46", "3", "1", "1", "1", "66.7%"] in [row[:6] for row in cells(text)]
    assert ["2026-W47", "0", "0", "0", "0", "–", "–"] in cells(text)
    assert [w["week"] for w in data["weekly_trend"]][::5] == ["2026-W44", "2026-W49"]


def test_send_stores_and_queues_once(team):
    week_of_work(team)
    assert run("weekly_report", "--week", "2026-W46", "--send").splitlines()[-1] == (
        "Snapshot 2026-W46 saved; messages queued: 2"
    )
    assert run("weekly_report", "--week", "2026-W46", "--send").splitlines()[-1] == (
        "Snapshot 2026-W46 saved; messages queued: 0"
    )
    assert ReportSnapshot.objects.get().label == "2026-W46"
    assert OutboxMessage.objects.count() == 2


def test_retake_keeps_the_earlier_figure_of_record(team):
    week_of_work(team)
    run("weekly_report", "--week", "2026-W46", "--send")
    first = ReportSnapshot.objects.get()
    team.node(first.period_start + timedelta(hours=20), status=MilestoneStatus.DONE)
    run("weekly_report", "--week", "2026-W46", "--send", "--retake", "Late data entry fixed")
    current = ReportSnapshot.objects.get(superseded_at__isnull=True)
    assert current.pk != first.pk and current.reason == "Late data entry fixed"
    assert current.data["due_count"] == first.data["due_count"] + 1
    first.refresh_from_db()
    assert first.superseded_at is not None and first.data["due_count"] == 3
    with pytest.raises(CommandError, match="Say why"):
        run("weekly_report", "--week", "2026-W46", "--send", "--retake", " ")


def test_default_period_is_the_last_complete_one(team):
    assert run("weekly_report").startswith("2026-W46 (all projects)")
    assert run("monthly_report").startswith("2026-10 (all projects)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("weekly_report", "--week", "2026-47"), "Give the week as YYYY-Www"),
        (("weekly_report", "--week", "2026-W54"), "2026 has no ISO week 54"),
        (("monthly_report", "--month", "2026-13"), "Give the month as YYYY-MM"),
        (("weekly_report", "--project", "999999"), "No project with id 999999"),
        (("weekly_report", "--project", "abc"), "No project with id abc"),
        (("weekly_report", "--department", "nope"), "No department with code nope"),
    ],
)
def test_bad_input_changes_nothing(team, args, message):
    week_of_work(team)
    with pytest.raises(CommandError, match=message):
        run(*args, "--send")
    assert not ReportSnapshot.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_bad_week_is_a_one_line_error_and_a_non_zero_exit():
    result = manage_py("weekly_report", "--week", "W47")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: Give the week as YYYY-Www, for example 2026-W47."
    ]


def test_both_scopes_at_once_are_refused(team):
    with pytest.raises(CommandError, match="not both"):
        run("weekly_report", "--project", str(team.project.pk), "--department", "merch")


def test_weeks_relative_to_after():
    assert AFTER - WEEK.end == timedelta(hours=9)
