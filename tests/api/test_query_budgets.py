"""Read paths cost a constant number of SQL queries, however many rows a page shows."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.api import router
from tests.factories import (
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.alerts.models import Alert
from tracker.milestones.models import DeviationReason, MilestoneDependency
from tracker.milestones.services import milestone_update
from tracker.notifications.models import Channel
from tracker.projects.services import (
    project_baseline,
    project_rebaseline,
    project_update,
    template_save,
)

pytestmark = pytest.mark.django_db
ROWS = 6  # enough rows that a query per row shows over any budget below
NODE = {"title": "Node", "department": "merch", "offset_days": -1}


def fill(project, count):
    departments = [DepartmentFactory(code=f"d{i}") for i in range(6)]
    people = UserFactory.create_batch(5)
    nodes = [
        MilestoneFactory(project=project, department=departments[i % 6], assignee=people[i % 5])
        for i in range(count)
    ]
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=nodes[i], depends_on=nodes[i - 1]) for i in range(1, count)
    )
    return nodes


def queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/milestones/?page_size=500&project={id}", "/api/v1/projects/{id}/board/"],
)
def test_same_queries_for_10_and_300_nodes(api_client, owner, project, path):
    api_client.force_login(owner)
    small, large = project, ProjectFactory(owner=owner)
    fill(small, 10)
    fill(large, 300)
    assert queries(api_client, path.format(id=small.pk)) == queries(
        api_client, path.format(id=large.pk)
    )


def departments() -> str:
    for i in range(ROWS):
        DepartmentFactory(code=f"d{i}", lead=UserFactory())
    return "/api/v1/departments/"


def users() -> str:
    for i in range(ROWS):
        MembershipFactory(user=UserFactory(), department=DepartmentFactory(code=f"d{i}"))
    return "/api/v1/users/"


def templates() -> str:
    DepartmentFactory(code="merch")
    for i in range(ROWS):
        template_save(
            actor=None,
            code=f"t{i}",
            name=f"T{i}",
            kind="launch",
            nodes=[{**NODE, "key": "a"}, {**NODE, "key": "b", "depends_on": ["a"]}],
        )
    return "/api/v1/templates/"


def projects() -> str:
    DepartmentFactory(code="merch")
    for i in range(ROWS):
        template = template_save(
            actor=None, code=f"t{i}", name=f"T{i}", kind="launch", nodes=[{**NODE, "key": "a"}]
        )
        MilestoneFactory(project=ProjectFactory(kind="launch", template=template))
    return "/api/v1/projects/"


def milestones() -> str:
    fill(ProjectFactory(), ROWS)
    return "/api/v1/milestones/"


def board() -> str:
    project = ProjectFactory()
    fill(project, ROWS)
    return f"/api/v1/projects/{project.pk}/board/"


def forecast() -> str:
    project = ProjectFactory()
    fill(project, ROWS)
    return f"/api/v1/projects/{project.pk}/forecast/"


def history() -> str:
    node = MilestoneFactory()
    for i in range(ROWS):
        editor = UserFactory(is_staff=True)  # a different person each time, each allowed
        milestone_update(milestone_id=node.pk, actor=editor, data={"title": f"Title {i}"})
    return f"/api/v1/milestones/{node.pk}/history/"


def episodes() -> str:
    from tracker.milestones.models import LatenessEpisode

    node = MilestoneFactory()
    start = node.due_at
    for i in range(ROWS):  # closed episodes: the node was late, done, re-opened, late again
        LatenessEpisode.objects.create(
            milestone=node,
            project=node.project,
            started_at=start + timedelta(days=2 * i),
            started_due_at=start,
            ended_at=start + timedelta(days=2 * i + 1),
            scan_id=uuid.uuid4(),
        )
    return f"/api/v1/milestones/{node.pk}/episodes/"


def comments() -> str:
    from tracker.notifications.comments import comment_post

    node = MilestoneFactory()
    for _ in range(ROWS):
        comment_post(actor=UserFactory(), milestone_id=node.pk, body="A comment")
    return f"/api/v1/milestones/{node.pk}/comments/"


def deviation_reasons() -> str:
    for i in range(ROWS):
        DeviationReason.objects.create(code=f"r{i}", name_en=f"R{i}", name_zh_hans=f"原因{i}")
    return "/api/v1/deviation-reasons/"


def baselines() -> str:
    owner = UserFactory()
    project = ProjectFactory(owner=owner)
    fill(project, 3)
    project_baseline(project=project, actor=owner)
    for _i in range(ROWS):
        project_rebaseline(project=project, actor=owner, reason_code="platform_change")
    return f"/api/v1/projects/{project.pk}/baselines/"


def project_history() -> str:
    project = ProjectFactory()
    for i in range(ROWS):
        editor = UserFactory(is_staff=True)  # a different person each time, each allowed
        project_update(
            project=project, actor=editor, data={"deviation_threshold": Decimal(i + 1) / 100}
        )
    return f"/api/v1/projects/{project.pk}/history/"


def channels() -> str:
    for i in range(ROWS):
        Channel.objects.create(
            name=f"C{i}",
            kind="slack",
            url=f"https://chat.example/{i}",
            events=["overdue"],
            project=ProjectFactory() if i % 2 else None,
            department=None if i % 2 else DepartmentFactory(code=f"d{i}"),
            created_by=UserFactory(),
        )
    return "/api/v1/channels/"


def alerts() -> str:
    for node in fill(ProjectFactory(), ROWS):
        Alert.objects.create(
            milestone=node,
            project=node.project,
            department=node.department,
            kind="overdue",
            due_at=node.due_at,
            scan_id=uuid.uuid4(),
        )
    return "/api/v1/alerts/"


# Every GET route of the API router that is not a single object's detail, with the data it
# lists and the most queries it may cost (session, user, count, page, and what it prefetches).
BUDGETS: dict[str, tuple[Callable[[], str], int]] = {
    "department-list": (departments, 4),
    "user-list": (users, 5),
    "template-list": (templates, 5),
    "project-list": (projects, 4),
    "project-board": (board, 7),
    "project-forecast": (forecast, 6),
    "milestone-list": (milestones, 6),
    "milestone-history": (history, 6),
    "milestone-comments-list": (comments, 5),
    "milestone-episodes": (episodes, 9),
    "channel-list": (channels, 4),
    "deviation-reason-list": (deviation_reasons, 3),
    "project-baselines": (baselines, 5),
    "project-history": (project_history, 6),
    "alert-list": (alerts, 4),
}


def list_routes() -> set[str]:
    """Names of the router's GET routes other than `retrieve` (lists and list-like actions)."""
    return {
        pattern.name
        for pattern in router.urls
        if getattr(pattern.callback, "actions", {}).get("get") not in (None, "retrieve")
    }


@pytest.mark.parametrize("route", sorted(list_routes() | set(BUDGETS)))
def test_every_list_endpoint_keeps_its_query_budget(api_client, staff, route):
    assert route in list_routes(), f"{route} has a budget but no route: remove it"
    assert route in BUDGETS, f"{route} lists rows but has no query budget: add one"
    build, budget = BUDGETS[route]
    path = build()
    api_client.force_login(staff)
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get(path)
    assert response.status_code == 200
    rows = response.json()
    rows = (
        rows.get("results", rows.get("lanes", rows.get("nodes")))
        if isinstance(rows, dict)
        else rows
    )
    assert len(rows) >= ROWS, "too few rows for a query per row to show"
    assert len(captured) <= budget, "\n".join(q["sql"] for q in captured.captured_queries)
