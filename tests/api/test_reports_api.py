"""The weekly and monthly report endpoints: periods, scopes and their errors."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import DepartmentFactory, MilestoneFactory, UserFactory
from tracker.milestones.models import MilestoneStatus

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def client(api_client):
    api_client.force_login(UserFactory())
    return api_client


@pytest.fixture
def data(project, department):
    # Only baselined projects count in the reports.
    project.baselined_at = datetime(2026, 11, 1, tzinfo=SHANGHAI)
    project.save(update_fields=["baselined_at"])
    tech = DepartmentFactory(code="tech", name="Tech")
    due = datetime(2026, 11, 17, 18, 0, tzinfo=SHANGHAI)  # Tuesday of 2026-W47
    MilestoneFactory(
        project=project,
        department=department,
        due_at=due,
        status=MilestoneStatus.DONE,
        completed_at=due,
    )
    MilestoneFactory(
        project=project,
        department=department,
        due_at=due,
        status=MilestoneStatus.DONE,
        completed_at=datetime(2026, 11, 19, 18, 0, tzinfo=SHANGHAI),
    )
    MilestoneFactory(project=project, department=tech, due_at=due)
    MilestoneFactory(project=project, department=tech, due_at=due, status=MilestoneStatus.CANCELLED)
    return project


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI), tick=False)
def test_weekly_report(client, data):
    body = client.get("/api/v1/reports/weekly/", {"week": "2026-W47"}).json()
    assert body["period"] == "2026-W47"
    assert (
        body["start"] == "2026-11-16T00:00:00+08:00" and body["end"] == "2026-11-23T00:00:00+08:00"
    )
    assert (
        body["due_count"],
        body["on_time_count"],
        body["late_count"],
        body["open_overdue_count"],
    ) == (3, 1, 1, 1)
    assert body["deviation_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert body["breached"] is True and body["threshold"] == 0.1
    # Late by 2 days, open since Tuesday 18:00 until as_of Tuesday 12:00 a week later: 6.75 days.
    assert body["mean_slip_days"] == pytest.approx((2 + 6.75) / 2, abs=0.01)
    departments = {d["code"]: d for d in body["by_department"]}
    assert (
        departments["tech"]["deviated_count"] == 1 and departments["tech"]["deviation_rate"] == 1.0
    )
    assert body["by_project"][0]["id"] == data.pk and body["by_project"][0]["name"] == "Double 11"
    assert [s["slip_days"] for s in body["worst_slips"]] == [6.75, 2.0]


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI), tick=False)
def test_weekly_report_scopes(client, data):
    body = client.get("/api/v1/reports/weekly/", {"week": "2026-W47", "department": "tech"}).json()
    assert body["due_count"] == 1
    body = client.get("/api/v1/reports/weekly/", {"week": "2026-W47", "project": data.pk}).json()
    assert body["due_count"] == 3


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI), tick=False)
def test_weekly_defaults_to_current_week(client, data):
    assert client.get("/api/v1/reports/weekly/").json()["period"] == "2026-W48"


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI), tick=False)
def test_monthly_report_has_trend_and_ranking(client, data):
    body = client.get("/api/v1/reports/monthly/", {"month": "2026-11"}).json()
    assert body["period"] == "2026-11" and body["due_count"] == 3
    assert [w["week"] for w in body["weekly_trend"]] == [
        "2026-W44",
        "2026-W45",
        "2026-W46",
        "2026-W47",
        "2026-W48",
        "2026-W49",
    ]
    assert [w["due_count"] for w in body["weekly_trend"]] == [0, 0, 0, 3, 0, 0]
    assert [d["code"] for d in body["departments_ranked"]] == ["tech", "merch"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("weekly", {"week": "2026-47"}, "week"),
        ("weekly", {"week": "2026-W54"}, "week"),
        ("weekly", {"week": "2025-W53"}, "week"),
        ("monthly", {"month": "2026-13"}, "month"),
        ("monthly", {"month": "Nov"}, "month"),
        ("weekly", {"project": "999999"}, "project"),
        ("weekly", {"project": "abc"}, "project"),
        ("monthly", {"department": "nope"}, "department"),
    ],
)
def test_bad_report_parameters_are_400(client, path, params, field):
    response = client.get(f"/api/v1/reports/{path}/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_reports_need_authentication(api_client):
    assert api_client.get("/api/v1/reports/weekly/").status_code == 401
    assert api_client.get("/api/v1/reports/monthly/").status_code == 401


def test_monthly_report_defaults_to_the_last_complete_month(client, data):
    with time_machine.travel(datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI), tick=False):
        body = client.get("/api/v1/reports/monthly/").json()

    assert body["period"] == "2026-11" and body["due_count"] == 3
