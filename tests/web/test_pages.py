"""My work, the timeline and the node detail page; every page needs a signed-in user."""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.alerts.models import Alert
from tracker.milestones.forecast import project_forecast_refresh
from tracker.milestones.models import MilestoneDependency, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.models import ProjectStatus
from tracker.projects.services import project_baseline
from tracker.reports.periods import week_period
from tracker.web.selectors import my_work

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        reverse("web:home"),
        reverse("web:project_list"),
        reverse("web:project_create"),
        reverse("web:board", args=[1]),
        reverse("web:timeline", args=[1]),
        reverse("web:project_baseline", args=[1]),
        reverse("web:node_detail", args=[1]),
        reverse("web:card_edit", args=[1]),
        reverse("web:report_weekly"),
        reverse("web:report_monthly"),
        reverse("web:settings"),
    ],
)
def test_every_page_needs_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_my_work_sections(client_for, project):
    me = UserFactory(username="me")
    mine = DepartmentFactory(code="merch", name="Merchandising")
    MembershipFactory(user=me, department=mine)
    elsewhere = DepartmentFactory(code="design")
    now = timezone.now()
    overdue = MilestoneFactory(
        project=project,
        department=elsewhere,
        assignee=me,
        title="Late forecast",
        due_at=now - timedelta(days=1),
    )
    at_risk = MilestoneFactory(
        project=project, department=mine, title="Waiting price", due_at=now + timedelta(days=20)
    )
    MilestoneDependency.objects.create(milestone=at_risk, depends_on=overdue)
    project_forecast_refresh(project=project)
    week_end = week_period(now).end
    soon = MilestoneFactory(
        project=project,
        department=mine,
        title="Soon",
        due_at=min(now + timedelta(hours=1), week_end - timedelta(minutes=1)),
    )
    later = MilestoneFactory(
        project=project, department=mine, title="Later", due_at=now + timedelta(days=30)
    )
    done = MilestoneFactory(
        project=project,
        department=mine,
        title="Finished",
        status=MilestoneStatus.DONE,
        due_at=now - timedelta(days=1),
    )
    MilestoneFactory(
        project=project, department=elsewhere, title="Not mine", due_at=now - timedelta(days=1)
    )
    archived = MilestoneFactory(department=mine, title="Archived", due_at=now - timedelta(days=1))
    archived.project.status = ProjectStatus.ARCHIVED
    archived.project.save()

    work = my_work(user=me, now=now)

    assert [n.title for n in work.overdue] == ["Late forecast"]
    assert [n.title for n in work.at_risk] == ["Waiting price"]
    assert [n.title for n in work.due_this_week] == ["Soon"]
    assert [n.title for n in work.recently_done] == ["Finished"]
    assert work.overdue[0].is_mine and not work.at_risk[0].is_mine
    html = client_for(me).get(reverse("web:home")).content.decode()
    for title in ("Late forecast", "Waiting price", "Soon", "Finished"):
        assert title in html
    for title in ("Later", "Not mine", "Archived"):
        assert f">{title}<" not in html
    assert later and soon and done


def test_my_work_empty_state(client_for):
    html = client_for(UserFactory()).get(reverse("web:home")).content.decode()
    assert "Nothing needs you right now" in html


def test_timeline_draws_every_node_with_markers(client_for, owner, project):
    dept = DepartmentFactory(code="merch")
    now = timezone.now()
    first = MilestoneFactory(
        project=project,
        department=dept,
        title="Forecast",
        due_at=now - timedelta(days=3),
        status=MilestoneStatus.DONE,
    )
    second = MilestoneFactory(
        project=project, department=dept, title="Pricing", due_at=now + timedelta(days=4)
    )
    MilestoneDependency.objects.create(milestone=second, depends_on=first)
    project_baseline(project=project, actor=owner)
    milestone_update(
        milestone_id=second.pk,
        actor=owner,
        data={"due_at": second.due_at + timedelta(days=2)},
        change_reason="Late supplier",
        reason_code="supplier",
    )

    client = client_for(owner)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("web:timeline", args=[project.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<g class="tl-node">') == 2
    assert html.count('class="tl-baseline"') == 2 + 1  # two rows and the legend
    assert 'class="tl-today"' in html and 'class="tl-dday"' in html
    assert html.count('marker-end="url(#tl-arrow)"') == 1
    assert "+2 days" in html
    assert 'role="img"' in html
    assert len(captured) <= 10  # with the re-plan dialog's deviation reasons and the bell


def test_timeline_empty_state(client_for, owner, project):
    html = client_for(owner).get(reverse("web:timeline", args=[project.pk])).content.decode()
    assert "No nodes to draw yet" in html


def test_node_detail_shows_dependencies_alerts_and_history(client_for, owner, project):
    dept = DepartmentFactory(code="merch", name="Merchandising")
    upstream = MilestoneFactory(project=project, department=dept, title="Forecast")
    node = MilestoneFactory(
        project=project, department=dept, title="Pricing", description="Coupons too"
    )
    downstream = MilestoneFactory(project=project, department=dept, title="Page build")
    MilestoneDependency.objects.create(milestone=node, depends_on=upstream)
    MilestoneDependency.objects.create(milestone=downstream, depends_on=node)
    project_baseline(project=project, actor=owner)
    node.refresh_from_db()
    milestone_update(
        milestone_id=node.pk,
        actor=owner,
        data={"due_at": node.due_at + timedelta(days=1)},
        change_reason="Brand asked for a second round",
        reason_code="scope_change",
    )
    now = timezone.now()
    Alert.objects.create(
        milestone=node,
        project=project,
        kind="overdue",
        due_at=node.due_at,
        created_at=now - timedelta(hours=2),
        resolved_at=now,
        scan_id=uuid.uuid4(),
    )
    Alert.objects.create(
        milestone=node, project=project, kind="due_soon", due_at=node.due_at, scan_id=uuid.uuid4()
    )

    response = client_for(owner).get(reverse("web:node_detail", args=[node.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Coupons too" in html
    assert "Forecast" in html and "Page build" in html
    alerts = html[html.index('id="alerts-h"') : html.index('id="history-h"')]
    assert alerts.index("Due soon") < alerts.index("Overdue")  # newest first
    assert alerts.count("✓") == 1 and "open" in alerts
    assert "Brand asked for a second round" in html


def test_node_detail_without_alerts_or_history(client_for, owner, node):
    html = client_for(owner).get(reverse("web:node_detail", args=[node.pk])).content.decode()
    assert "No alerts were raised about this node." in html


def test_timeline_shades_non_working_days_and_names_holidays(client_for, owner):
    shanghai = ZoneInfo("Asia/Shanghai")
    project = ProjectFactory(
        owner=owner, war_room=False, d_day=datetime(2026, 10, 12, tzinfo=shanghai)
    )
    MilestoneFactory(project=project, due_at=datetime(2026, 9, 28, 18, tzinfo=shanghai))
    html = client_for(owner).get(reverse("web:timeline", args=[project.pk])).content.decode()
    assert '<rect class="tl-off"' in html
    assert "<title>10-01–10-07: National Day</title>" in html
    assert "<title>10-03–10-04: weekend</title>" not in html  # inside the break
    assert "<title>10-11: weekend</title>" in html  # Saturday 10-10 is a make-up workday


def test_my_work_shows_an_owners_projects_and_a_leads_departments(client_for, owner, project):
    """An owner sees her projects' overdue nodes, whoever they are assigned to; a department
    head sees the department's, in every project."""
    now = timezone.now()
    head = UserFactory(username="head")
    tech = DepartmentFactory(code="tech", name="Tech", lead=head)
    design = DepartmentFactory(code="design", name="Design")
    MilestoneFactory(project=project, department=design, title="Banner", due_at=now - timedelta(1))
    MilestoneFactory(project=project, department=tech, title="Checkout", due_at=now - timedelta(2))
    MilestoneFactory(department=tech, title="Other project", due_at=now - timedelta(3))
    MilestoneFactory(department=design, title="Not hers", due_at=now - timedelta(3))

    assert sorted(n.title for n in my_work(user=owner, now=now).overdue) == ["Banner", "Checkout"]
    assert sorted(n.title for n in my_work(user=head, now=now).overdue) == [
        "Checkout",
        "Other project",
    ]
    assert "Banner" in client_for(owner).get(reverse("web:home")).content.decode()


def test_the_timeline_zooms_and_re_plans_through_the_service(client_for, owner, project):
    node = MilestoneFactory(project=project, department=DepartmentFactory())
    client = client_for(owner)
    url = reverse("web:timeline", args=[project.pk])
    fit = client.get(url).content.decode()
    week = client.get(url, {"zoom": "week"}).content.decode()

    def width(html: str) -> int:
        return int(html.split('class="timeline" viewBox="0 0 ', 1)[1].split(" ")[0])

    assert width(week) > width(fit)
    assert client.get(url, {"zoom": "decade"}).status_code == 400
    assert f'data-node="{node.pk}"' in fit  # the owner may drag it

    replan = reverse("web:node_replan", args=[node.pk])
    later = timezone.localtime(node.due_at + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    moved = client.post(replan, {"due_at": later, "version": node.version, "zoom": "week"})
    assert moved.status_code == 302 and moved["Location"].endswith("?zoom=week")
    node.refresh_from_db()
    assert timezone.localtime(node.due_at).strftime("%Y-%m-%dT%H:%M") == later

    project_baseline(project=project, actor=owner)
    node.refresh_from_db()
    no_reason = client.post(replan, {"due_at": later, "version": node.version})
    assert no_reason.status_code == 302  # same date: nothing moves, nothing asked
    again = timezone.localtime(node.due_at + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(replan, {"due_at": again, "version": node.version})
    assert refused.status_code == 400 and "say why" in refused.content.decode()
    stale = client.post(
        replan, {"due_at": again, "version": node.version - 1, "change_reason": "x"}
    )
    assert stale.status_code == 409
    node.refresh_from_db()
    assert timezone.localtime(node.due_at).strftime("%Y-%m-%dT%H:%M") == later
