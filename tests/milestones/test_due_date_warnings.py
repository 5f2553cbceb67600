"""A due date on a non-working day is allowed, and the API answer and the editor say so."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from tests.factories import MilestoneFactory, ProjectFactory
from tests.web.test_board import HX, edit_data
from tracker.milestones.selectors import due_date_warnings

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def node(owner, department):
    project = ProjectFactory(
        owner=owner, war_room=False, d_day=datetime(2026, 11, 11, tzinfo=SHANGHAI)
    )
    return MilestoneFactory(
        project=project, department=department, due_at=datetime(2026, 9, 29, 18, tzinfo=SHANGHAI)
    )


@pytest.mark.parametrize(
    ("due", "warnings"),
    [
        ("2026-10-03T18:00:00+08:00", ["2026-10-03 is not a working day (National Day)."]),
        ("2026-11-08T18:00:00+08:00", ["2026-11-08 is not a working day (Sunday)."]),
        ("2026-10-10T18:00:00+08:00", []),  # the make-up Saturday
        ("2026-10-09T18:00:00+08:00", []),
    ],
)
def test_the_api_answer_warns_about_a_non_working_day(etag_client, owner, node, due, warnings):
    api_client = etag_client
    api_client.force_login(owner)
    response = api_client.patch(f"/api/v1/milestones/{node.pk}/", {"due_at": due}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["warnings"] == warnings
    assert response.json()["due_at"] == due  # allowed all the same


def test_reads_and_other_writes_carry_no_warning(etag_client, owner, node):
    api_client = etag_client
    api_client.force_login(owner)
    node.due_at = datetime(2026, 10, 3, 18, tzinfo=SHANGHAI)
    node.save()
    assert api_client.get(f"/api/v1/milestones/{node.pk}/").json()["warnings"] == []
    patched = api_client.patch(f"/api/v1/milestones/{node.pk}/", {"title": "x"}, format="json")
    assert patched.json()["warnings"] == []


def test_a_war_room_day_is_a_working_day(node):
    node.project.war_room = True
    node.project.war_room_days_before = 3
    assert (
        due_date_warnings(due_at=datetime(2026, 11, 8, 18, tzinfo=SHANGHAI), project=node.project)
        == []
    )


def test_the_editor_says_so(client, owner, node):
    client.force_login(owner)
    data = edit_data(node, due_at="2026-10-03T18:00")
    html = client.post(reverse("web:card_edit", args=[node.pk]), data, **HX).content.decode()
    assert "2026-10-03 is not a working day (National Day)." in html
    node.refresh_from_db()
    assert node.due_at == datetime(2026, 10, 3, 18, tzinfo=SHANGHAI)
