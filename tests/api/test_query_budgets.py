"""Read paths cost a constant number of SQL queries, however many nodes a page shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import DepartmentFactory, MilestoneFactory, UserFactory
from tracker.milestones.models import MilestoneDependency

pytestmark = pytest.mark.django_db


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
    from tests.factories import ProjectFactory

    api_client.force_login(owner)
    small, large = project, ProjectFactory(owner=owner)
    fill(small, 10)
    fill(large, 300)
    assert queries(api_client, path.format(id=small.pk)) == queries(
        api_client, path.format(id=large.pk)
    )
