"""The migrated database holds every constraint and index the models declare: a migration whose
state and database operations part (milestones 0013 once dropped the one-open-episode index on
PostgreSQL while its state kept it) is caught here, not by a race in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import MilestoneFactory
from tracker.milestones.models import LatenessEpisode

pytestmark = pytest.mark.django_db


def missing_from_database() -> list[tuple[str, str]]:
    missing = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if not model._meta.managed or model._meta.proxy:
                continue
            present = connection.introspection.get_constraints(cursor, model._meta.db_table)
            missing += [
                (model._meta.label, declared.name)
                for declared in (*model._meta.constraints, *model._meta.indexes)
                if declared.name not in present
            ]
    return missing


def test_every_declared_constraint_and_index_is_in_the_database():
    assert missing_from_database() == []


def open_episode(node, started_at):
    return LatenessEpisode.objects.create(
        milestone=node,
        project_id=node.project_id,
        started_at=started_at,
        started_due_at=node.due_at,
        scan_id="00000000-0000-0000-0000-000000000001",
    )


def test_a_node_has_one_open_episode_at_most():
    node = MilestoneFactory()
    now = timezone.now()
    open_episode(node, now)
    with pytest.raises(IntegrityError), transaction.atomic():
        open_episode(node, now + timedelta(minutes=1))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite never lost the index")
def test_the_restoring_migration_keeps_the_earliest_of_doubled_open_episodes(transactional_db):
    node = MilestoneFactory()
    now = timezone.now()
    executor = MigrationExecutor(connection)
    executor.migrate([("milestones", "0013_scan_writes_no_node")])
    try:
        with connection.cursor() as cursor:
            # What 0013 left on PostgreSQL: no index, so a second open episode went in.
            cursor.execute("DROP INDEX IF EXISTS milestones_one_open_episode")
        first = open_episode(node, now - timedelta(hours=2))
        second = open_episode(node, now - timedelta(hours=1))
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert missing_from_database() == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.ended_at is None
    assert second.ended_at == second.started_at
