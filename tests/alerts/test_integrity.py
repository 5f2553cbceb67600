"""Alerts never outlive their node, though no foreign key check guards them (`Alert.milestone`).

A node deleted while a scan raises an alert for it is the case a foreign key would catch. Here
the scan and the delete run in two real connections, each holding its transaction open until
the other is seen waiting for its row lock, in both orders.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection, transaction

from tests.alerts.support import database_url, wait_until
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.services import ScanLock, ScanResult, alerts_scan
from tracker.milestones.models import Comment, LatenessEpisode, Milestone, MilestoneStatus
from tracker.milestones.services import milestone_delete
from tracker.notifications.models import InboxItem

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)


def orphans() -> int:
    return Alert.objects.exclude(milestone_id__in=Milestone.objects.values("pk")).count()


def scan_at(now: datetime) -> ScanResult:
    return alerts_scan(now=now, lock=ScanLock.NONE)


# One node per step of the scan, set up so that a scan at NOW raises exactly that step's alert.


def overdue_node(team) -> Milestone:
    return team.node(NOW - H)


def due_soon_node(team) -> Milestone:
    return team.node(NOW + H)


def escalation_node(team) -> Milestone:
    node = team.node(NOW - 50 * H)
    assert scan_at(NOW - 49 * H).overdue == 1  # overdue for an hour: not escalated yet
    return node


def resolved_node(team) -> Milestone:
    node = overdue_node(team)
    assert scan_at(NOW - H / 2).overdue == 1
    Milestone.objects.filter(pk=node.pk).update(status=MilestoneStatus.DONE, completed_at=NOW)
    return node


STEPS = {
    AlertKind.OVERDUE: overdue_node,
    AlertKind.DUE_SOON: due_soon_node,
    AlertKind.ESCALATION: escalation_node,
    AlertKind.RESOLVED: resolved_node,
}
COUNTED_AS = {  # the ScanResult field that counts each kind
    AlertKind.OVERDUE: "overdue",
    AlertKind.DUE_SOON: "due_soon",
    AlertKind.ESCALATION: "escalated",
    AlertKind.RESOLVED: "resolved",
}


class Held(threading.Thread):
    """Runs `work` in a transaction of its own connection and commits only when released."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.done_work = threading.Event()
        self.release = threading.Event()
        self.outcome: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.outcome = self.work()
                self.done_work.set()
                assert self.release.wait(30), "never released"
        except BaseException as error:  # re-raised by finish() in the test's thread
            self.error = error
        finally:
            self.done_work.set()
            connection.close()

    def finish(self) -> object:
        self.release.set()
        self.join(30)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.outcome


def someone_waits_for_a_row_lock() -> bool:
    """PostgreSQL shows who waits for a lock. SQLite shows nobody: there the other transaction
    waits at its start for the one write lock (IMMEDIATE), and is given a moment to be seen
    not finishing."""
    if connection.vendor == "sqlite":
        time.sleep(0.5)
        return True
    with psycopg.connect(database_url(), autocommit=True) as probe:
        (waiting,) = probe.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return waiting > 0


@pytest.mark.parametrize("kind", STEPS)
def test_a_node_deleted_while_a_scan_alerts_it_takes_the_alert_along(team, kind):
    node = STEPS[kind](team)
    scanning = Held(lambda: scan_at(NOW))
    scanning.start()
    assert scanning.done_work.wait(30)
    assert Alert.objects.filter(milestone=node, kind=kind).count() == 0  # not committed yet

    deleting = Held(lambda: milestone_delete(milestone_id=node.pk, actor=None))
    deleting.start()
    wait_until(someone_waits_for_a_row_lock)  # for the node the scan locked
    assert not deleting.done_work.is_set()
    result = scanning.finish()
    deleting.finish()

    assert getattr(result, COUNTED_AS[kind]) == 1
    assert not Milestone.objects.filter(pk=node.pk).exists()
    assert orphans() == 0


@pytest.mark.parametrize("kind", STEPS)
def test_a_scan_waits_for_a_delete_in_progress_and_skips_the_node(team, kind):
    node = STEPS[kind](team)
    deleting = Held(lambda: milestone_delete(milestone_id=node.pk, actor=None))
    deleting.start()
    assert deleting.done_work.wait(30)

    scanning = Held(lambda: scan_at(NOW))
    scanning.start()
    wait_until(someone_waits_for_a_row_lock)  # for the node the delete holds
    assert not scanning.done_work.is_set()
    deleting.finish()
    result = scanning.finish()

    assert result == ScanResult()
    assert Alert.objects.count() == 0
    assert not Milestone.objects.filter(pk=node.pk).exists()


@pytest.mark.postgresql(reason="a trigger; on SQLite nodes are deleted through Django's cascade")
def test_deleting_nodes_in_sql_deletes_their_alerts(team):
    """...and what else hangs on them: episodes, inbox items, comments."""
    kept, deleted = team.node(NOW - H), team.node(NOW - 2 * H)
    assert scan_at(NOW).overdue == 2
    for node in (kept, deleted):
        Comment.objects.create(milestone=node, author=team.owner, body="Why late?")
    assert set(InboxItem.objects.values_list("milestone_id", flat=True)) == {kept.pk, deleted.pk}
    with psycopg.connect(database_url(), autocommit=True) as sql:
        sql.execute("DELETE FROM milestones_milestone WHERE id = %s", [deleted.pk])
    assert set(Alert.objects.values_list("milestone_id", flat=True)) == {kept.pk}
    assert set(LatenessEpisode.objects.values_list("milestone_id", flat=True)) == {kept.pk}
    assert set(InboxItem.objects.values_list("milestone_id", flat=True)) == {kept.pk}
    assert set(Comment.objects.values_list("milestone_id", flat=True)) == {kept.pk}
    assert orphans() == 0
