"""`GET/POST /api/v1/milestones/{id}/comments/`: the order of answers, the body, the thread."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import DepartmentFactory, MilestoneFactory, UserFactory, make_token
from tracker.accounts.models import TokenScope
from tracker.milestones.models import Comment
from tracker.notifications.comments import comment_post
from tracker.notifications.models import InboxItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(db):
    return UserFactory(username="lead")


@pytest.fixture
def node(project, lead):
    merch = DepartmentFactory(code="merch", name="Merchandising", lead=lead)
    return MilestoneFactory(project=project, department=merch, title="Price approval")


def url(node) -> str:
    return f"/api/v1/milestones/{node.pk}/comments/"


def auth(api_client, user, scope=TokenScope.WRITE):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user, scope)}")
    return api_client


def test_post_and_read_the_thread(api_client, owner, node, lead):
    client = auth(api_client, owner)
    response = client.post(url(node), {"body": "@lead see this"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["author"] == owner.username and data["body"] == "@lead see this"
    assert data["milestone"] == node.pk and data["author_name"] == str(owner)
    assert InboxItem.objects.filter(recipient=lead, kind="mention").exists()
    listed = client.get(url(node)).json()
    assert [c["id"] for c in listed["results"]] == [data["id"]]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("anonymous", 401),
        ("read_token", 403),
        ("missing_node", 404),
        ("archived", 403),
        ("empty", 400),
        ("no_body", 400),
        ("not_json", 415),
    ],
)
def test_refusals_write_nothing(api_client, owner, node, case, expected):
    client = (
        api_client
        if case == "anonymous"
        else auth(api_client, owner, TokenScope.READ if case == "read_token" else TokenScope.WRITE)
    )
    target = url(node)
    body: dict = {"body": "Hello"}
    if case == "missing_node":
        target = "/api/v1/milestones/999999/comments/"
    elif case == "archived":
        node.project.status = "archived"
        node.project.save(update_fields=["status"])
    elif case == "empty":
        body = {"body": "   "}
    elif case == "no_body":
        body = {}
    if case == "not_json":
        response = client.post(target, "body=x", content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(target, body, format="json")
    assert response.status_code == expected, response.content
    assert not Comment.objects.exists()


def test_reading_needs_only_to_see_the_node_and_costs_the_same(api_client, owner, node):
    other = MilestoneFactory(project=node.project, department=node.department)
    comment_post(actor=owner, milestone_id=other.pk, body="elsewhere")
    client = auth(api_client, UserFactory(), TokenScope.READ)
    for _ in range(2):
        comment_post(actor=UserFactory(), milestone_id=node.pk, body="hi")
    client.get(url(node))  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(node)).json()["count"] == 2
    for _ in range(10):
        comment_post(actor=UserFactory(), milestone_id=node.pk, body="hi")
    with CaptureQueriesContext(connection) as many:
        assert client.get(url(node)).json()["count"] == 12
    assert len(many) == len(few)
