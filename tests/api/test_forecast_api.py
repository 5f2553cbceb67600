"""The forecast over REST (`GET /api/v1/projects/{id}/forecast/`) and the minimum lead of a
dependency link (`dependencies` on a node), with bad input refused and nothing written."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import MilestoneFactory
from tracker.milestones.models import MilestoneChange, MilestoneDependency, MilestoneStatus

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def client(api_client, owner):
    api_client.force_login(owner)
    return api_client


@pytest.fixture
def chain(project, department):
    """Samples three days overdue, then a shoot (due in 2 days) and a launch (in 4), planned
    5 and 2 days apart; the D-day in 5 days. The project's war room makes every day worked."""
    now = timezone.now()
    project.d_day = now + 5 * DAY
    project.save()

    def node(title, due, **fields):
        return MilestoneFactory(
            project=project, department=department, title=title, due_at=due, **fields
        )

    samples = node("Samples", now - 3 * DAY)
    shoot = node("Shoot", now + 2 * DAY)
    launch = node("Launch", now + 4 * DAY)
    dropped = node("Dropped", now + DAY, status=MilestoneStatus.CANCELLED)
    MilestoneDependency.objects.create(milestone=shoot, depends_on=samples)
    MilestoneDependency.objects.create(milestone=launch, depends_on=shoot)
    return samples, shoot, launch, dropped


def test_forecast_lists_each_nodes_forecast_float_and_the_critical_path(client, project, chain):
    samples, shoot, launch, dropped = chain
    response = client.get(f"/api/v1/projects/{project.pk}/forecast/")
    assert response.status_code == 200
    body = response.json()
    nodes = {row["id"]: row for row in body["nodes"]}
    assert set(nodes) == {samples.pk, shoot.pk, launch.pk}  # the cancelled node has none
    assert body["critical_path"] == [samples.pk, shoot.pk, launch.pk]
    # Samples finish now; the shoot 5 days later (3 late), the launch 2 after that (3 late),
    # 2 days after the D-day; the shoot pushes the launch's due date by 3.
    assert (nodes[shoot.pk]["days_late"], nodes[launch.pk]["days_late"]) == (3, 3)
    assert nodes[launch.pk]["float_days"] == body["d_day_float_days"] == -2
    assert nodes[shoot.pk]["float_days"] == nodes[samples.pk]["float_days"] == -3
    assert all(row["on_critical_path"] for row in nodes.values())
    assert dropped.pk not in body["critical_path"]


def test_forecast_costs_the_same_queries_for_any_number_of_nodes(
    client, project, department, chain
):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/api/v1/projects/{project.pk}/forecast/").status_code == 200
        return len(captured)

    few = count()
    MilestoneFactory.create_batch(30, project=project, department=department)
    assert count() == few


def if_match(node) -> dict[str, str]:
    """The node's current ETag, as every API write of a node must send it."""
    node.refresh_from_db(fields=["version"])
    return {"HTTP_IF_MATCH": f'"{node.version}"'}


def test_dependencies_with_a_minimum_lead_are_written_and_read(client, project, chain):
    samples, shoot, launch, _dropped = chain
    response = client.patch(
        f"/api/v1/milestones/{launch.pk}/",
        {
            "dependencies": [
                {"depends_on": shoot.pk, "min_lead_days": 1},
                {"depends_on": samples.pk},
            ]
        },
        format="json",
        **if_match(launch),
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["depends_on"] == sorted([samples.pk, shoot.pk])
    assert body["dependencies"] == sorted(
        [
            {"depends_on": shoot.pk, "min_lead_days": 1},
            {"depends_on": samples.pk, "min_lead_days": None},
        ],
        key=lambda d: d["depends_on"],
    )
    change = MilestoneChange.objects.get(milestone=launch, field="dependency_leads")
    assert (change.old_value, change.new_value) == ("", f"{shoot.pk}:1")

    # A list of ids still works, and keeps the leads of the links it keeps.
    response = client.patch(
        f"/api/v1/milestones/{launch.pk}/",
        {"depends_on": [shoot.pk]},
        format="json",
        **if_match(launch),
    )
    assert response.status_code == 200
    assert response.json()["dependencies"] == [{"depends_on": shoot.pk, "min_lead_days": 1}]

    # With the 1-day lead the launch is forecast a day after the shoot's forecast, not two.
    forecast = client.get(f"/api/v1/projects/{project.pk}/forecast/").json()
    nodes = {row["id"]: row for row in forecast["nodes"]}
    assert nodes[launch.pk]["days_late"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dependencies": [{"depends_on": 0}]}, "dependencies"),
        ({"dependencies": "x"}, "dependencies"),
        ({"dependencies": [{"depends_on": "SHOOT", "min_lead_days": -1}]}, "dependencies"),
        ({"dependencies": [{"depends_on": "SHOOT", "min_lead_days": "two"}]}, "dependencies"),
        ({"dependencies": [{"depends_on": "SHOOT", "min_lead_days": 366}]}, "dependencies"),
        ({"dependencies": [{"depends_on": "SHOOT"}], "depends_on": ["SHOOT"]}, "dependencies"),
        ({"dependencies": [{"depends_on": "LAUNCH"}]}, "depends_on"),  # itself
    ],
    ids=["unknown node", "not a list", "negative", "not a number", "too long", "both", "self"],
)
def test_bad_dependencies_are_refused_and_nothing_is_written(client, chain, body, field):
    _samples, shoot, launch, _dropped = chain

    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return {"SHOOT": shoot.pk, "LAUNCH": launch.pk}.get(value, value)

    before = list(
        MilestoneDependency.objects.values_list("milestone", "depends_on", "min_lead_days")
    )
    response = client.patch(
        f"/api/v1/milestones/{launch.pk}/", resolve(body), format="json", **if_match(launch)
    )
    assert response.status_code == 400, response.json()
    assert field in response.json()
    after = list(
        MilestoneDependency.objects.values_list("milestone", "depends_on", "min_lead_days")
    )
    assert after == before
