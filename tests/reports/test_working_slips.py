"""Slip in working days beside slip in calendar days: a node due before National Day and done
after it is eight calendar days late but one working day."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
)
from tracker.milestones.models import MilestoneStatus
from tracker.reports.periods import parse_week
from tracker.reports.selectors import deviation_report

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_worst_and_mean_slips_in_working_days(api_client, owner):
    project = BaselinedProjectFactory(owner=owner)
    department = DepartmentFactory(code="supply")
    due = at(2026, 9, 30, 18)  # Wednesday before the National Day break
    MilestoneFactory(
        project=project,
        department=department,
        title="Across the break",
        due_at=due,
        baseline_due_at=due,
        status=MilestoneStatus.DONE,
        completed_at=at(2026, 10, 8, 18),  # the first working day after it
    )
    MilestoneFactory(
        project=project,
        department=department,
        title="Still open",
        due_at=at(2026, 10, 1, 18),
        status=MilestoneStatus.TODO,
    )
    report = deviation_report(period=parse_week("2026-W40"), as_of=at(2026, 10, 10, 12))
    slips = {s["title"]: s for s in report["worst_slips"]}
    assert slips["Across the break"]["slip_days"] == 8.0
    assert slips["Across the break"]["slip_working_days"] == 1
    # Open: from Thursday 10-01 to Saturday 10-10, the make-up workday: 10-08, 10-09, 10-10.
    assert slips["Still open"]["slip_working_days"] == 3
    assert report["mean_slip_working_days"] == 2.0

    api_client.force_login(owner)
    body = api_client.get("/api/v1/reports/weekly/?week=2026-W40").json()
    assert "mean_slip_working_days" in body
    assert all("slip_working_days" in s for s in body["worst_slips"])
