"""Weekly and monthly report pages: period picker, tables, trend chart and export links."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
)
from tracker.milestones.models import MilestoneStatus

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 13, 12, 0, tzinfo=SHANGHAI)  # Friday of ISO week 2026-W46


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def week_data(owner):
    merch = DepartmentFactory(code="merch", name="Merchandising")
    design = DepartmentFactory(code="design", name="Design")
    double11 = BaselinedProjectFactory(owner=owner, name="Double 11")
    launch = BaselinedProjectFactory(owner=owner, name="Earbuds")
    monday = datetime(2026, 11, 9, 18, 0, tzinfo=SHANGHAI)
    MilestoneFactory(
        project=double11,
        department=merch,
        title="Hero SKUs",
        due_at=monday,
        status=MilestoneStatus.DONE,
        completed_at=monday + timedelta(days=2),
    )
    MilestoneFactory(
        project=double11,
        department=merch,
        title="Coupons",
        due_at=monday,
        status=MilestoneStatus.DONE,
        completed_at=monday,
    )
    MilestoneFactory(
        project=launch, department=design, title="Banner", due_at=monday + timedelta(days=1)
    )
    return {"double11": double11, "launch": launch, "merch": merch}


def test_weekly_report_of_the_current_week(client_for, owner, week_data):
    response = client_for(owner).get(reverse("web:report_weekly"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Weekly report · 2026-W46" in html
    assert 'value="2026-W46"' in html  # the picker shows the period
    assert "66.7%" in html  # 2 of 3 deviated: one done late, one still open
    assert "above the threshold" in html
    assert "Merchandising" in html and "Design" in html
    assert "Banner" in html and "Hero SKUs" in html  # worst slips
    assert response.context["report"]["worst_slips"][0]["title"] == "Banner"
    for table in ("departments", "projects", "slips", "trend"):
        url = reverse(
            "integrations:report_export",
            kwargs={"kind": "weekly", "label": "2026-W46", "table": table, "fmt": "csv"},
        )
        assert f'href="{url}"' in html
    assert html.count('class="tr-point') + html.count('class="tr-point above') >= 1
    assert "Threshold 10.0%" in html
    assert len(response.context["trend"]) == 12


def test_weekly_report_scoped_to_a_project(client_for, owner, week_data):
    project = week_data["double11"]
    response = client_for(owner).get(
        reverse("web:report_weekly"), {"period": "2026-W46", "project": project.pk}
    )
    html = response.content.decode()
    assert response.context["report"]["due_count"] == 2
    assert "Banner" not in html
    assert f"?project={project.pk}" in html  # exports keep the scope


def test_past_week_has_a_next_link_and_the_current_has_none(client_for, owner):
    client = client_for(owner)
    past = client.get(reverse("web:report_weekly"), {"period": "2026-W40"})
    assert past.status_code == 200
    assert past.context["next"] == "2026-W41" and past.context["previous"] == "2026-W39"
    assert "No node was due in this period." in past.content.decode()
    current = client.get(reverse("web:report_weekly"))
    assert current.context["next"] is None


def test_monthly_report(client_for, owner, week_data):
    response = client_for(owner).get(reverse("web:report_monthly"), {"period": "2026-11"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Monthly report · 2026-11" in html
    assert response.context["report"]["due_count"] == 3
    url = reverse(
        "integrations:report_export",
        kwargs={"kind": "monthly", "label": "2026-11", "table": "departments", "fmt": "csv"},
    )
    assert url in html


@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("web:report_weekly", {"period": "2026-47"}, "Give the week as YYYY-Www"),
        ("web:report_weekly", {"period": "2026-W60"}, "2026 has no ISO week 60."),
        ("web:report_monthly", {"period": "2026-13"}, "Give the month as YYYY-MM"),
        ("web:report_weekly", {"project": "999999"}, "Select a valid choice."),
        ("web:report_weekly", {"department": "abc"}, "Select a valid choice."),
    ],
)
def test_bad_report_parameters_are_a_clear_400(client_for, owner, name, query, message):
    response = client_for(owner).get(reverse(name), query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_reports_index_redirects_to_weekly(client_for, owner):
    response = client_for(owner).get(reverse("web:reports"))
    assert response.status_code == 302 and response["Location"] == reverse("web:report_weekly")


def test_monthly_report_defaults_to_the_last_complete_month(client_for, owner, week_data):
    """On 13 November the month under way is nearly empty: the page opens on October, with
    November one click away."""
    html = client_for(owner).get(reverse("web:report_monthly")).content.decode()

    assert 'value="2026-10"' in html
    assert "period=2026-11" in html  # the "next" link to the month under way


@pytest.mark.parametrize(
    ("route", "query", "label"),
    [
        ("web:report_weekly", {"week": "2026-W45"}, "2026-W45"),
        ("web:report_monthly", {"month": "2026-09"}, "2026-09"),
    ],
)
def test_report_pages_accept_the_api_parameter_names(client_for, owner, route, query, label):
    html = client_for(owner).get(reverse(route), query).content.decode()

    assert f'value="{label}"' in html


def test_the_restatements_table_exports(client_for, owner, week_data):
    answer = client_for(owner).get(
        reverse(
            "integrations:report_export",
            kwargs={"kind": "weekly", "label": "2026-W45", "table": "restatements", "fmt": "csv"},
        )
    )
    assert answer.status_code == 200
    assert answer.content.decode("utf-8-sig").splitlines()[0].startswith("node_id,node,project_id")


def test_the_worst_slips_name_people_and_departments_not_codes(client_for, owner, week_data):
    from tests.factories import UserFactory
    from tracker.milestones.models import Milestone

    assignee = UserFactory(username="zhw", first_name="Hui", last_name="Zhang")
    Milestone.objects.filter(title="Banner").update(assignee=assignee)
    html = client_for(owner).get(reverse("web:report_weekly")).content.decode()
    assert "<td>Hui Zhang</td>" in html and "<td>zhw</td>" not in html
    assert "<td>Design</td>" in html and "<td>design</td>" not in html
