"""Node services and selectors: cycles, at-risk propagation, flags and concurrent edits."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections
from django.utils import timezone

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory
from tracker.core.errors import ConflictError
from tracker.milestones.forecast import project_forecast_refresh
from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
from tracker.milestones.selectors import at_risk_ids, find_cycle, project_board
from tracker.milestones.services import milestone_update


@pytest.mark.parametrize(
    ("edges", "start", "cycle"),
    [
        ([], 1, None),
        ([(1, 2), (2, 3)], 1, None),
        ([(1, 2), (2, 1)], 1, [1, 2, 1]),
        ([(1, 2), (2, 3), (3, 1)], 1, [1, 2, 3, 1]),
        ([(1, 2), (2, 3), (3, 2)], 1, None),  # a cycle that does not pass through 1
        ([(1, 2), (1, 3), (3, 4), (4, 1)], 1, [1, 3, 4, 1]),
    ],
    ids=["none", "chain", "pair", "triangle", "elsewhere", "branch"],
)
def test_find_cycle(edges, start, cycle):
    assert find_cycle(edges, start=start) == cycle


@pytest.fixture
def chain(db):
    """a ← b ← c, and d independent; a is three days overdue, which pushes the forecasts of b
    and c (due in a week, planned with a 10-day gap after a) three days past their due dates."""
    project = ProjectFactory()
    department = DepartmentFactory()
    now = timezone.now()
    a = MilestoneFactory(project=project, department=department, due_at=now - timedelta(days=3))
    b = MilestoneFactory(project=project, department=department)
    c = MilestoneFactory(project=project, department=department)
    d = MilestoneFactory(project=project, department=department)
    MilestoneDependency.objects.bulk_create(
        [
            MilestoneDependency(milestone=b, depends_on=a),
            MilestoneDependency(milestone=c, depends_on=b),
        ]
    )
    project_forecast_refresh(project=project)
    return project, a, b, c, d


def test_at_risk_propagates_downstream_transitively(chain):
    """At risk is open and forecast later than due: the overdue node itself, and the chain it
    pushes; d, on its own, is not."""
    project, a, b, c, _d = chain
    assert at_risk_ids(project_ids=[project.pk]) == {a.pk, b.pk, c.pk}


def test_a_small_delay_within_the_planned_gap_puts_nothing_at_risk(chain):
    """Late since midnight, on its due day: the downstream forecasts still meet their dates."""
    project, a, _b, _c, _d = chain
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    Milestone.objects.filter(pk=a.pk).update(due_at=midnight)
    project_forecast_refresh(project=project)
    assert at_risk_ids(project_ids=[project.pk]) == {a.pk}


def test_done_nodes_are_not_at_risk_and_a_done_upstream_clears_risk(chain):
    project, a, b, _c, _d = chain
    Milestone.objects.filter(pk=b.pk).update(
        status=MilestoneStatus.DONE, completed_at=timezone.now()
    )
    project_forecast_refresh(project=project)
    assert at_risk_ids(project_ids=[project.pk]) == {a.pk}
    Milestone.objects.filter(pk=a.pk).update(
        status=MilestoneStatus.DONE, completed_at=timezone.now()
    )
    project_forecast_refresh(project=project)
    assert at_risk_ids(project_ids=[project.pk]) == set()


def test_at_risk_costs_one_query(chain, django_assert_num_queries):
    project, *_ = chain
    with django_assert_num_queries(1):  # a filter on the persisted forecast
        at_risk_ids(project_ids=[project.pk])


def test_board_filters(chain):
    project, a, b, c, _d = chain
    lanes = project_board(project=project, at_risk_only=True)
    assert {n.pk for lane in lanes for column in lane.columns.values() for n in column} == {
        a.pk,
        b.pk,
        c.pk,
    }
    lanes = project_board(project=project, overdue_only=True)
    assert {n.pk for lane in lanes for column in lane.columns.values() for n in column} == {a.pk}


def test_unknown_fields_are_refused(db):
    node = MilestoneFactory()
    with pytest.raises(ValidationError) as error:
        milestone_update(milestone_id=node.pk, actor=None, data={"version": 9})
    assert "version" in error.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_the_same_version_one_wins(db):
    """Two editors read version 1 and save at the same moment: exactly one write lands, the
    other gets ConflictError (the row lock serialises them; the version check decides)."""
    node = MilestoneFactory(title="Original")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(title: str) -> None:
        try:
            barrier.wait()
            milestone_update(
                milestone_id=node.pk, actor=None, data={"title": title}, expected_version=1
            )
            outcomes.append("saved")
        except ConflictError:
            outcomes.append("conflict")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=edit, args=(t,)) for t in ("Mine", "Theirs")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "saved"]
    node.refresh_from_db()
    assert node.version == 2 and node.title in {"Mine", "Theirs"}
    assert node.changes.filter(field="title").count() == 1
