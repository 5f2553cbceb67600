"""Card positions are unique per lane: racing creates take the next slots, an explicit position
must be free, a node moved to another lane goes to its end, and the migration that adds the
constraint first renumbers the lanes that already hold duplicates."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory
from tracker.milestones.models import Milestone
from tracker.milestones.services import milestone_create, milestone_update

BEFORE = [("milestones", "0002_lean_indexes")]


def lane(project, department) -> list[int]:
    return sorted(
        Milestone.objects.filter(project=project, department=department).values_list(
            "position", flat=True
        )
    )


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_creates_in_one_lane_get_ten_positions(caplog):
    """Ten threads create a node in the same lane at the same moment, each holding its
    transaction open a little after its insert, so the others read the lane while its row is
    still uncommitted: every node lands, at positions 0 to 9."""
    project, department = ProjectFactory(), DepartmentFactory()
    MilestoneFactory(project=project, department=department, position=0)
    MilestoneFactory(project=ProjectFactory(), department=department, position=1)  # other lane
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def create(i: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                milestone_create(
                    project=project,
                    actor=None,
                    title=f"Racer {i}",
                    department=department,
                    due_at=timezone.now() + timedelta(days=3),
                )
                time.sleep(0.2)
        except BaseException as error:
            errors.append(error)
        finally:
            close_old_connections()

    caplog.set_level(logging.DEBUG, logger="tracker.milestones.positions")
    threads = [threading.Thread(target=create, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert lane(project, department) == list(range(11))
    retries = [r for r in caplog.records if "taken by a racing create" in r.getMessage()]
    assert retries, "no create ran into another: the race was not tried"


def test_the_database_refuses_two_cards_at_one_position_of_a_lane(db):
    node = MilestoneFactory(position=4)
    MilestoneFactory(project=node.project, department=DepartmentFactory(), position=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        MilestoneFactory(project=node.project, department=node.department, position=4)


def test_new_nodes_go_after_the_last_card_of_their_lane(db):
    project, department = ProjectFactory(), DepartmentFactory()
    MilestoneFactory(project=project, department=department, position=7)

    def create(**fields) -> Milestone:
        return milestone_create(
            project=project,
            actor=None,
            title="New",
            department=department,
            due_at=timezone.now(),
            **fields,
        )

    assert create().position == 8
    assert create(position=3).position == 3
    with pytest.raises(ValidationError) as error:
        create(position=7)
    assert error.value.message_dict == {
        "position": ["Another node of this lane already has position 7."]
    }
    assert lane(project, department) == [3, 7, 8]


def test_editing_positions_and_moving_lanes(db):
    project, merch, tech = ProjectFactory(), DepartmentFactory(), DepartmentFactory()
    a = MilestoneFactory(project=project, department=merch, position=0)
    b = MilestoneFactory(project=project, department=merch, position=1)
    MilestoneFactory(project=project, department=tech, position=5)

    with pytest.raises(ValidationError) as error:
        milestone_update(milestone_id=b.pk, actor=None, data={"position": 0})
    assert "position" in error.value.message_dict
    assert milestone_update(milestone_id=b.pk, actor=None, data={"position": 2}).position == 2
    assert milestone_update(milestone_id=b.pk, actor=None, data={"position": 2}).version == 2

    moved = milestone_update(milestone_id=a.pk, actor=None, data={"department": tech})
    assert (moved.department, moved.position) == (tech, 6)  # after tech's last card
    assert moved.changes.filter(field="position", old_value="0", new_value="6").exists()
    with pytest.raises(ValidationError):
        milestone_update(milestone_id=b.pk, actor=None, data={"department": tech, "position": 5})
    assert (
        milestone_update(
            milestone_id=b.pk, actor=None, data={"department": tech, "position": 0}
        ).position
        == 0
    )
    assert lane(project, tech) == [0, 5, 6] and lane(project, merch) == []
    # A full PUT echoes the node's old position: kept when free in the new lane, else its end.
    back = milestone_update(
        milestone_id=b.pk, actor=None, data={"department": merch, "position": 0}
    )
    assert back.position == 0  # free in merch: kept
    c = MilestoneFactory(project=project, department=merch, position=5)
    echoed = milestone_update(
        milestone_id=c.pk, actor=None, data={"department": tech, "position": 5}
    )
    assert lane(project, tech) == [5, 6, 7] and echoed.position == 7


@pytest.fixture
def executor(transactional_db):
    executor = MigrationExecutor(connection)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the other tests expect


def test_the_migration_renumbers_lanes_with_duplicates_first(executor):
    executor.migrate(BEFORE)
    # The rows an older version wrote, through that version's model (later migrations, e.g.
    # the forecast columns, are not there yet).
    project, merch, tech = ProjectFactory(), DepartmentFactory(), DepartmentFactory()
    due = timezone.now()
    old_milestone = executor.loader.project_state(BEFORE).apps.get_model("milestones", "Milestone")

    def node(title, department, position, days=0):
        return old_milestone.objects.create(
            project_id=project.pk,
            department_id=department.pk,
            title=title,
            position=position,
            due_at=due + timedelta(days=days),
        ).pk

    # The board showed merch as: a (0), then b and c (5, 5: c due first), then d (8), e (8).
    ids = {
        "a": node("a", merch, 0),
        "c": node("c", merch, 5, days=1),
        "b": node("b", merch, 5, days=2),
        "e": node("e", merch, 8, days=1),
        "d": node("d", merch, 8, days=1),
        "t1": node("t1", tech, 4),
        "t2": node("t2", tech, 9),
    }
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    positions = dict(Milestone.objects.values_list("title", "position"))
    assert positions == {"a": 0, "c": 1, "b": 2, "e": 3, "d": 4, "t1": 4, "t2": 9}
    assert ids["e"] < ids["d"]  # the tie of e and d was broken by id
    with pytest.raises(IntegrityError), transaction.atomic():
        Milestone.objects.filter(pk=ids["d"]).update(position=0)


def test_the_api_answers_a_taken_position_with_400_and_writes_nothing(api_client, owner, project):
    department = DepartmentFactory(code="ops-lane")
    MilestoneFactory(project=project, department=department, position=2)
    api_client.force_authenticate(owner)
    body = {
        "project": project.pk,
        "title": "Stock",
        "department": "ops-lane",
        "due_at": "2026-12-01T10:00:00+08:00",
    }
    taken = api_client.post("/api/v1/milestones/", {**body, "position": 2}, format="json")
    assert taken.status_code == 400
    assert taken.json() == {"position": ["Another node of this lane already has position 2."]}
    assert lane(project, department) == [2]
    created = api_client.post("/api/v1/milestones/", body, format="json")
    assert created.status_code == 201 and created.json()["position"] == 3
