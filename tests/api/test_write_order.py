"""Every write answers in one order: 401 → 403 → 404 → 428 → 412 → 409 → 400 (README, "Order
of answers"). Each row makes several things wrong at once; the first in that order answers,
and nothing is written."""

import pytest
from django.utils import timezone

from tests.factories import (
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
    make_token,
)
from tracker.accounts.models import Department, TokenScope
from tracker.milestones.models import Milestone
from tracker.projects.services import project_baseline

pytestmark = pytest.mark.django_db

MISSING = 999999
BAD_BODY = {"title": "", "status": "finished"}  # two field errors


@pytest.fixture
def world():
    owner = UserFactory(username="owner")
    department = DepartmentFactory(code="merch")
    project = ProjectFactory(owner=owner)
    node = MilestoneFactory(project=project, department=department, title="Price approval")
    frozen = ProjectFactory(owner=owner)
    baselined = MilestoneFactory(project=frozen, department=department, title="Frozen")
    project_baseline(project=frozen, actor=None)
    baselined.refresh_from_db()
    return {
        "users": {
            "staff": UserFactory(username="staff", is_staff=True),
            "owner": owner,
            "member": UserFactory(username="member"),  # no role: may write no node
        },
        "read_token": make_token(owner, scope=TokenScope.READ),
        "node": node,
        "baselined": baselined,
        "department": department,
    }


def send(api_client, world, who, method, target, *, if_match=None, body=None):
    if who == "read_token":
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {world['read_token']}")
    elif who != "anonymous":
        api_client.force_login(world["users"][who])
    if target == "missing":
        path = f"/api/v1/milestones/{MISSING}/"
        current = 1
    elif target == "department":
        path = f"/api/v1/departments/{world['department'].pk}/"
        current = None
    elif target == "missing_department":
        path = f"/api/v1/departments/{MISSING}/"
        current = None
    else:
        node = world[target]
        path = f"/api/v1/milestones/{node.pk}/"
        current = node.version
    headers = {}
    if if_match == "current":
        headers["HTTP_IF_MATCH"] = f'"{current}"'
    elif if_match == "stale":
        headers["HTTP_IF_MATCH"] = f'"{current + 5}"'
    elif if_match is not None:
        headers["HTTP_IF_MATCH"] = if_match
    return getattr(api_client, method)(path, body, format="json", **headers)


ROWS = [
    # who, method, target, If-Match, body, expected
    ("anonymous", "patch", "node", None, BAD_BODY, 401),
    ("anonymous", "delete", "missing", None, None, 401),
    ("read_token", "patch", "missing", None, BAD_BODY, 403),
    ("read_token", "delete", "baselined", "stale", None, 403),
    ("member", "patch", "missing", None, BAD_BODY, 404),
    ("member", "patch", "node", None, BAD_BODY, 403),
    ("member", "put", "node", "stale", BAD_BODY, 403),
    ("member", "delete", "node", None, None, 403),
    ("owner", "patch", "missing", None, BAD_BODY, 404),
    ("owner", "delete", "missing", "stale", None, 404),
    ("owner", "patch", "node", None, BAD_BODY, 428),
    ("owner", "patch", "node", "*", BAD_BODY, 428),
    ("owner", "put", "node", None, BAD_BODY, 428),
    ("owner", "patch", "node", "stale", BAD_BODY, 412),
    ("owner", "put", "node", "stale", BAD_BODY, 412),
    ("owner", "patch", "node", "not-a-tag", BAD_BODY, 412),
    ("owner", "patch", "node", "current", BAD_BODY, 400),
    ("owner", "put", "node", "current", BAD_BODY, 400),
    # The example: a baselined node's DELETE is 428 without If-Match, 412 with a
    # stale tag, and 409 with the current tag (the rate of record: cancel it with a reason).
    ("owner", "delete", "baselined", None, None, 428),
    ("owner", "delete", "baselined", "stale", None, 412),
    ("owner", "delete", "baselined", "current", None, 409),
    ("owner", "delete", "node", None, None, 428),
    ("owner", "delete", "node", "stale", None, 412),
    # 409 comes after 401, 403 and 404: a department that still has nodes.
    ("anonymous", "delete", "department", None, None, 401),
    ("read_token", "delete", "missing_department", None, None, 403),
    ("member", "delete", "department", None, None, 403),
    ("staff", "delete", "missing_department", None, None, 404),
    ("staff", "delete", "department", None, None, 409),
]


@pytest.mark.parametrize(
    ("who", "method", "target", "if_match", "body", "expected"),
    ROWS,
    ids=[f"{r[1]}-{r[2]}-{r[0]}-{r[3]}-{r[5]}" for r in ROWS],
)
def test_the_first_fault_in_the_order_answers(
    api_client, world, who, method, target, if_match, body, expected
):
    versions = dict(Milestone.objects.values_list("pk", "version"))
    response = send(api_client, world, who, method, target, if_match=if_match, body=body)
    assert response.status_code == expected, response.content
    assert dict(Milestone.objects.values_list("pk", "version")) == versions
    assert Department.objects.filter(pk=world["department"].pk).exists()
    body = response.json()
    if expected == 412:
        assert body["current_version"] == world[target].version
    elif expected == 400:
        assert {"title", "status"} <= set(body)
    else:
        assert body["detail"]
    if expected == 428:
        assert "If-Match" in body["detail"]


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_the_current_tag_lets_the_write_through(api_client, world, method):
    api_client.force_login(world["users"]["owner"])
    node = world["node"]
    body = {
        "project": node.project_id,
        "title": "Prices approved",
        "department": "merch",
        "due_at": timezone.now().isoformat(),
    }
    response = send(api_client, world, "owner", method, "node", if_match="current", body=body)
    assert response.status_code == (204 if method == "delete" else 200), response.content
    if method == "delete":
        assert not Milestone.objects.filter(pk=node.pk).exists()
    else:
        assert response.json()["version"] == node.version + 1


def test_a_member_who_may_add_nodes_nowhere_hears_403_before_400(api_client, world):
    api_client.force_login(world["users"]["member"])
    response = api_client.post("/api/v1/milestones/", {"title": ""}, format="json")
    assert response.status_code == 403
    api_client.force_login(world["users"]["owner"])
    response = api_client.post("/api/v1/milestones/", {"title": ""}, format="json")
    assert response.status_code == 400 and "title" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "data", "content_type"),
    [
        ("post", "/api/v1/projects/", "name=P&kind=launch", "application/x-www-form-urlencoded"),
        ("post", "/api/v1/departments/", None, "multipart"),
        ("patch", "node", "title=Renamed", "application/x-www-form-urlencoded"),
    ],
)
def test_request_bodies_are_json_only(api_client, world, method, path, data, content_type):
    api_client.force_login(world["users"]["staff"])
    headers = {}
    if path == "node":
        path = f"/api/v1/milestones/{world['node'].pk}/"
        headers["HTTP_IF_MATCH"] = f'"{world["node"].version}"'
    if content_type == "multipart":
        response = getattr(api_client, method)(
            path, {"name": "Ops", "code": "ops"}, format="multipart", **headers
        )
    else:
        response = getattr(api_client, method)(path, data, content_type=content_type, **headers)
    assert response.status_code == 415, response.content
    assert "Unsupported media type" in response.json()["detail"]
    world["node"].refresh_from_db()
    assert world["node"].version == 1
    assert not Department.objects.filter(code="ops").exists()


# Every other write: a person who may not write at all hears 403 whatever the body holds; one
# who may hears 400 for the same body.
FORBIDDEN_WITH_BAD_BODY = [
    ("post", "/api/v1/departments/", {"code": "no spaces"}),
    ("patch", "/api/v1/departments/{department}/", {"code": "no spaces"}),
    ("delete", "/api/v1/departments/{department}/", None),
    ("post", "/api/v1/users/", {"username": ""}),
    ("patch", "/api/v1/users/{owner}/", {"email": "not-an-address"}),
    ("post", "/api/v1/templates/", {"code": "no spaces"}),
    ("patch", "/api/v1/projects/{project}/", {"d_day": "someday"}),
    ("put", "/api/v1/projects/{project}/", {"d_day": "someday"}),
    ("post", "/api/v1/calendar/", {"date": "soon"}),
    ("post", "/api/v1/channels/", {"kind": "carrier-pigeon"}),
]


@pytest.mark.parametrize(("method", "template", "body"), FORBIDDEN_WITH_BAD_BODY)
def test_403_comes_before_400_for_every_write(api_client, world, method, template, body):
    path = template.format(
        department=world["department"].pk,
        owner=world["users"]["owner"].pk,
        project=world["node"].project_id,
    )
    api_client.force_login(world["users"]["member"])
    refused = getattr(api_client, method)(path, body, format="json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["detail"]
    if body is not None:
        api_client.force_login(world["users"]["staff"])
        invalid = getattr(api_client, method)(path, body, format="json")
        assert invalid.status_code == 400, invalid.content
