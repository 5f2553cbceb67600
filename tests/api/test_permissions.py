"""Who may do what, as a matrix of role × action over the API.

Roles: staff; the project's owner; the lead of the node's department; the lead of another
department; the node's assignee; another member; anonymous.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.milestones.models import Milestone

pytestmark = pytest.mark.django_db

ROLES = ["staff", "owner", "lead", "other_lead", "assignee", "member", "anonymous"]


@pytest.fixture
def world():
    owner = UserFactory(username="owner")
    lead = UserFactory(username="lead")
    other_lead = UserFactory(username="other_lead")
    assignee = UserFactory(username="assignee")
    member = UserFactory(username="member")
    merch = DepartmentFactory(code="merch", lead=lead)
    DepartmentFactory(code="tech", lead=other_lead)
    MembershipFactory(user=assignee, department=merch)
    MembershipFactory(user=member, department=merch)
    project = ProjectFactory(owner=owner)
    node = MilestoneFactory(project=project, department=merch, assignee=assignee)
    users = {
        "staff": UserFactory(username="staff", is_staff=True),
        "owner": owner,
        "lead": lead,
        "other_lead": other_lead,
        "assignee": assignee,
        "member": member,
        "anonymous": None,
    }
    return {"users": users, "project": project, "node": node}


def call(api_client, world, role, action):
    user = world["users"][role]
    if user is not None:
        api_client.force_login(user)
    node, project = world["node"], world["project"]
    due = (timezone.now() + timedelta(days=3)).isoformat()
    match action:
        case "read":
            return api_client.get(f"/api/v1/milestones/{node.pk}/")
        case "edit":
            return api_client.patch(f"/api/v1/milestones/{node.pk}/", {"title": "x"}, format="json")
        case "create_in_merch":
            return api_client.post(
                "/api/v1/milestones/",
                {"project": project.pk, "title": "n", "department": "merch", "due_at": due},
                format="json",
            )
        case "create_in_tech":
            return api_client.post(
                "/api/v1/milestones/",
                {"project": project.pk, "title": "n", "department": "tech", "due_at": due},
                format="json",
            )
        case "move_to_tech":
            return api_client.patch(
                f"/api/v1/milestones/{node.pk}/", {"department": "tech"}, format="json"
            )
        case "delete":
            return api_client.delete(f"/api/v1/milestones/{node.pk}/")
        case "edit_project":
            return api_client.patch(f"/api/v1/projects/{project.pk}/", {"name": "y"}, format="json")
        case "baseline":
            return api_client.post(f"/api/v1/projects/{project.pk}/baseline/")
        case "create_department":
            return api_client.post(
                "/api/v1/departments/", {"name": "Ops", "code": "ops"}, format="json"
            )
        case "create_project":
            return api_client.post(
                "/api/v1/projects/",
                {"name": "P", "kind": "launch", "d_day": due},
                format="json",
            )
    raise AssertionError(action)


# Expected status per action, for each role in ROLES order.
MATRIX = {
    "read":              [200, 200, 200, 200, 200, 200, 401],
    "edit":              [200, 200, 200, 403, 200, 403, 401],
    "create_in_merch":   [201, 201, 201, 403, 403, 403, 401],
    "create_in_tech":    [201, 201, 403, 201, 403, 403, 401],
    "move_to_tech":      [200, 200, 403, 403, 403, 403, 401],
    "delete":            [204, 204, 204, 403, 403, 403, 401],
    "edit_project":      [200, 200, 403, 403, 403, 403, 401],
    "baseline":          [200, 200, 403, 403, 403, 403, 401],
    "create_department": [201, 403, 403, 403, 403, 403, 401],
    "create_project":    [201, 201, 201, 201, 201, 201, 401],
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX))
def test_permission_matrix(etag_client, world, role, action):
    expected = MATRIX[action][ROLES.index(role)]
    before = Milestone.objects.count()
    response = call(etag_client, world, role, action)
    assert response.status_code == expected, response.content
    if expected >= 400 and action.startswith(("create_in", "delete")):
        assert Milestone.objects.count() == before
    if expected >= 400 and action in {"edit", "move_to_tech"}:
        world["node"].refresh_from_db()
        assert world["node"].version == 1


def test_lead_of_the_other_department_can_move_node_only_with_rights_on_both(etag_client, world):
    api_client = etag_client
    # The merch lead may edit merch nodes but may not push one into tech's lane.
    api_client.force_login(world["users"]["lead"])
    response = api_client.patch(
        f"/api/v1/milestones/{world['node'].pk}/", {"department": "tech"}, format="json"
    )
    assert response.status_code == 403
    assert "department" in response.json()["detail"]


def test_only_staff_creates_a_project_for_someone_else(api_client, world):
    api_client.force_login(world["users"]["member"])
    payload = {"name": "P", "kind": "launch", "d_day": "2026-12-24T10:00:00+08:00", "owner": "lead"}
    assert api_client.post("/api/v1/projects/", payload, format="json").status_code == 403
    api_client.force_login(world["users"]["staff"])
    response = api_client.post("/api/v1/projects/", payload, format="json")
    assert response.status_code == 201 and response.json()["owner"] == "lead"


def test_deleting_what_is_still_referenced_is_a_clear_409(api_client, world):
    """A department with nodes, or a user who owns projects, cannot be deleted (found by
    fuzzing the API with schemathesis: it used to be a 500)."""
    api_client.force_login(world["users"]["staff"])
    department = world["node"].department
    response = api_client.delete(f"/api/v1/departments/{department.pk}/")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("This cannot be deleted: 1 milestones still")
    owner = world["users"]["owner"]
    response = api_client.delete(f"/api/v1/users/{owner.pk}/")
    assert (
        response.status_code == 409 and "1 projects still refer to it" in response.json()["detail"]
    )
    assert Milestone.objects.filter(department=department).exists()
