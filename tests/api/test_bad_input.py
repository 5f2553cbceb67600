"""Input that once reached the database and came back as a 500: each is a 400 naming the
field, and nothing is written."""

import pytest

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.milestones.models import Milestone
from tracker.projects.models import Project, ProjectTemplate

pytestmark = pytest.mark.django_db
OFFSET = "The time zone offset must lie between -12:00 and +14:00."
NAIVE = "Give a time zone offset, e.g. 2027-11-11T00:00:00+08:00 or …Z."
RANGE = "Give a date between the years 2000 and 2100."


@pytest.fixture
def staff_client(api_client):
    api_client.force_login(UserFactory(is_staff=True))
    return api_client


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("due_before=2026-01-25T04:31:58%2B22:42", "due_before", OFFSET),
        ("due_after=2026-01-25T04:31:58-13:00", "due_after", OFFSET),
        ("due_before=2026-01-25T04:31:58", "due_before", NAIVE),
        ("due_after=0402-01-01T00:00:00Z", "due_after", RANGE),
        ("due_before=not-a-date", "due_before", "Give an ISO 8601 date and time."),
        ("department=me%00rch", "department", "Null characters are not allowed."),
    ],
)
def test_bad_filters_are_400(staff_client, query, field, message):
    response = staff_client.get(f"/api/v1/milestones/?{query}")
    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_good_offsets_and_bounds_filter(staff_client):
    node = MilestoneFactory()
    for query in ("due_after=2000-01-01T00:00:00Z", "due_before=2100-12-31T23:59:59Z"):
        response = staff_client.get(f"/api/v1/milestones/?{query.replace('+', '%2B')}")
        assert [m["id"] for m in response.json()["results"]] == [node.pk], response.json()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"department": "me\x00rch"}, "department", "Object with code=merch does not exist."),
        ({"assignee": "mei\x00"}, "assignee", "Object with username=mei does not exist."),
        ({"due_at": "2026-11-01T18:00:00"}, "due_at", NAIVE),
        ({"due_at": "0402-11-01T18:00:00+08:00"}, "due_at", RANGE),
        ({"due_at": "2101-01-01T00:00:00Z"}, "due_at", RANGE),
        ({"due_at": "2026-11-01T18:00:00+16:30"}, "due_at", OFFSET),
        ({"completed_at": "2026-11-01T18:00:00"}, "completed_at", NAIVE),
    ],
)
def test_bad_node_input_is_400_and_writes_nothing(staff_client, changes, field, message):
    UserFactory(username="mei")
    project = ProjectFactory()
    DepartmentFactory(code="merch")
    payload = {
        "project": project.pk,
        "title": "Price approval",
        "department": "merch",
        "due_at": "2026-11-01T18:00:00+08:00",
        **changes,
    }
    response = staff_client.post("/api/v1/milestones/", payload, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not Milestone.objects.exists()


@pytest.mark.parametrize(
    ("d_day", "message"),
    [
        ("2026-11-11T00:00:00", NAIVE),
        ("0402-11-11T00:00:00+08:00", RANGE),
        ("2026-11-11T00:00:00+22:42", OFFSET),
    ],
)
def test_bad_d_day_is_400_and_writes_nothing(staff_client, d_day, message):
    response = staff_client.post(
        "/api/v1/projects/",
        {"name": "Double 11", "kind": "campaign", "d_day": d_day},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"d_day": [message]}
    assert not Project.objects.exists()


def test_an_aware_d_day_keeps_its_moment(staff_client):
    response = staff_client.post(
        "/api/v1/projects/",
        {"name": "Launch", "kind": "launch", "d_day": "2027-03-01T09:00:00-05:00"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["d_day"] == "2027-03-01T22:00:00+08:00"
    assert response.json()["milestone_count"] == 0


@pytest.mark.parametrize("missing", ["title", "time", "key", "department", "offset_days"])
def test_a_template_patch_with_an_incomplete_node_is_400(staff_client, missing):
    DepartmentFactory(code="merch")
    node = {"key": "a", "title": "Plan", "department": "merch", "offset_days": -3, "time": "18:00"}
    created = staff_client.post(
        "/api/v1/templates/",
        {"code": "mini", "name": "Mini", "kind": "campaign", "nodes": [node]},
        format="json",
    )
    assert created.status_code == 201
    incomplete = {key: value for key, value in node.items() if key != missing}
    response = staff_client.patch(
        f"/api/v1/templates/{created.json()['id']}/",
        {"nodes": [{**node, "key": "b"}, incomplete]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"nodes": {"1": {missing: ["This field is required."]}}}
    template = ProjectTemplate.objects.get(code="mini")
    assert [(n.key, n.title) for n in template.nodes.all()] == [("a", "Plan")]
