"""The read rule, in its one home: `visible_to(user)` on projects and on nodes."""

import pytest
from django.contrib.auth.models import AnonymousUser

from tests.factories import MilestoneFactory, ProjectFactory, UserFactory
from tracker.milestones.models import Milestone
from tracker.projects.models import Project, ProjectStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects():
    return {status: ProjectFactory(status=status, name=status) for status in ProjectStatus.values}


def reader(kind: str):
    match kind:
        case "signed in":
            return UserFactory()
        case "staff":
            return UserFactory(is_staff=True)
        case "deactivated":
            return UserFactory(is_active=False)
        case "anonymous":
            return AnonymousUser()
    raise AssertionError(kind)


LISTED = {"planning", "active", "closed"}
ALL = LISTED | {"archived"}


@pytest.mark.parametrize(
    ("who", "include_archived", "expected"),
    [
        ("signed in", False, LISTED),
        ("signed in", True, ALL),
        ("staff", False, LISTED),
        ("staff", True, ALL),
        ("deactivated", True, set()),
        ("anonymous", True, set()),
    ],
)
def test_projects_and_their_nodes_follow_one_rule(projects, who, include_archived, expected):
    for project in projects.values():
        MilestoneFactory(project=project, title=project.name)
    user = reader(who)
    visible = Project.objects.visible_to(user, include_archived=include_archived)
    nodes = Milestone.objects.visible_to(user, include_archived=include_archived)
    assert set(visible.values_list("name", flat=True)) == expected
    assert set(nodes.values_list("title", flat=True)) == expected
