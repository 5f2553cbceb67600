"""Bulk node writes (creation from a plan, the re-anchor shift, the baseline): every node they
touch gets its history row, in a constant number of queries."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.milestones.models import Milestone, MilestoneChange, MilestoneStatus
from tracker.milestones.services import (
    PlannedNode,
    milestone_bulk_baseline,
    milestone_bulk_create,
    milestone_bulk_shift,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def plan(count: int, department: str = "merch") -> list[PlannedNode]:
    return [
        PlannedNode(
            key=f"n{i}",
            title=f"Node {i}",
            description="",
            department_code=department,
            due_at=NOW + timedelta(days=i),
            depends_on=(f"n{i - 1}",) if i else (),
        )
        for i in range(count)
    ]


def test_bulk_create_assigns_leads_links_keys_and_records_history():
    lead, actor = UserFactory(), UserFactory()
    DepartmentFactory(code="merch", lead=lead)
    project = ProjectFactory()
    nodes = milestone_bulk_create(
        project=project, nodes=plan(3), actor=actor, reason="From template x", now=NOW
    )
    assert [(n.template_key, n.assignee, n.position) for n in nodes] == [
        ("n0", lead, 0),
        ("n1", lead, 1),
        ("n2", lead, 2),
    ]
    assert list(nodes[2].depends_on.all()) == [nodes[1]]
    assert all(n.baseline_due_at is None for n in nodes)
    history = MilestoneChange.objects.filter(milestone__project=project)
    assert sorted(history.values_list("field", "new_value", "actor", "reason")) == [
        ("created", f"Node {i}", actor.pk, "From template x") for i in range(3)
    ]


def test_bulk_create_after_the_baseline_baselines_the_new_nodes():
    DepartmentFactory(code="merch")
    project = ProjectFactory(baselined_at=NOW)
    nodes = milestone_bulk_create(project=project, nodes=plan(2), actor=None, now=NOW)
    assert [n.baseline_due_at for n in nodes] == [n.due_at for n in nodes]


def test_bulk_create_costs_the_same_for_3_and_30_nodes():
    DepartmentFactory(code="merch", lead=UserFactory())
    counts = []
    for count in (3, 30):
        project = ProjectFactory()
        with CaptureQueriesContext(connection) as captured:
            milestone_bulk_create(project=project, nodes=plan(count), actor=None, now=NOW)
        counts.append(len(captured))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (plan(2, department="nowhere"), "Create these departments first: nowhere."),
        (plan(2)[1:], "Nodes depend on unknown keys: n0."),
    ],
    ids=["missing department", "unknown key"],
)
def test_bulk_create_refuses_a_broken_plan_and_writes_nothing(nodes, message):
    DepartmentFactory(code="merch")
    with pytest.raises(ValidationError, match=message):
        milestone_bulk_create(project=ProjectFactory(), nodes=nodes, actor=None, now=NOW)
    assert not Milestone.objects.exists() and not MilestoneChange.objects.exists()


def test_bulk_shift_moves_every_node_but_done_ones_with_a_history_row_each():
    project, actor = ProjectFactory(), UserFactory()
    done = MilestoneFactory(project=project, status=MilestoneStatus.DONE, completed_at=NOW)
    cancelled = MilestoneFactory(project=project, status=MilestoneStatus.CANCELLED)
    late = MilestoneFactory(project=project, due_at=NOW - timedelta(days=1))
    other = MilestoneFactory()
    before = {n.pk: n.due_at for n in (done, cancelled, late, other)}

    moved = milestone_bulk_shift(
        project_id=project.pk, delta=timedelta(days=3), actor=actor, reason="why", now=NOW
    )

    assert moved == 2
    nodes = Milestone.objects.in_bulk(before)
    for node, shift, version in [(done, 0, 1), (cancelled, 3, 2), (late, 3, 2), (other, 0, 1)]:
        assert nodes[node.pk].due_at == before[node.pk] + timedelta(days=shift)
        assert nodes[node.pk].version == version
    assert sorted(
        MilestoneChange.objects.values_list("milestone", "field", "old_value", "new_value")
    ) == sorted(
        (pk, "due_at", before[pk].isoformat(), (before[pk] + timedelta(days=3)).isoformat())
        for pk in (cancelled.pk, late.pk)
    )
    assert set(MilestoneChange.objects.values_list("actor", "reason")) == {(actor.pk, "why")}
    assert (
        milestone_bulk_shift(project_id=project.pk, delta=timedelta(0), actor=None, reason="") == 0
    )
    assert MilestoneChange.objects.count() == 2  # a zero move writes nothing


def test_bulk_baseline_locks_each_due_date_and_records_it():
    project, actor = ProjectFactory(), UserFactory()
    nodes = [MilestoneFactory(project=project) for _ in range(3)]
    other = MilestoneFactory()

    assert milestone_bulk_baseline(project_id=project.pk, actor=actor, now=NOW) == 3

    for node in nodes:
        node.refresh_from_db()
        assert (node.baseline_due_at, node.version) == (node.due_at, 2)
    other.refresh_from_db()
    assert other.baseline_due_at is None and other.version == 1
    assert sorted(
        MilestoneChange.objects.values_list("milestone", "field", "old_value", "new_value", "actor")
    ) == [(n.pk, "baseline_due_at", "", n.due_at.isoformat(), actor.pk) for n in nodes]
