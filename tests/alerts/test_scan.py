"""The scan's rules, case by case, at the edges (time-machine holds the clock)."""

from datetime import datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.alerts.support import database_url
from tests.factories import (
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
    prefer_digest,
)
from tracker.alerts.digest import alerts_digest_send
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.services import (
    ScanLock,
    ScanResult,
    Step,
    alerts_scan,
    scan_lock_name,
)
from tracker.alerts.sql import scan_begin
from tracker.core.locks import NODE_DELETION, lock_key
from tracker.milestones.models import LatenessEpisode, Milestone, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.projects.models import ProjectStatus

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
US = timedelta(microseconds=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def scan(**kwargs) -> ScanResult:
    """A full scan at the frozen clock, the way the beat task calls it."""
    return alerts_scan(now=timezone.now(), **kwargs)


def kinds(node: Milestone) -> set[str]:
    return set(Alert.objects.filter(milestone=node).values_list("kind", flat=True))


@pytest.mark.parametrize(
    ("due", "status", "expected"),
    [
        (NOW, MilestoneStatus.TODO, {"due_soon"}),  # due exactly now has not passed yet
        (NOW - US, MilestoneStatus.TODO, {"overdue"}),
        (NOW - US, MilestoneStatus.IN_PROGRESS, {"overdue"}),
        (NOW - US, MilestoneStatus.BLOCKED, {"overdue"}),
        (NOW + 24 * H, MilestoneStatus.TODO, {"due_soon"}),  # the window's far edge is in
        (NOW + 24 * H + US, MilestoneStatus.TODO, set()),
        (NOW - 48 * H, MilestoneStatus.TODO, {"overdue"}),  # overdue exactly 48 h: not yet
        (NOW - 48 * H - US, MilestoneStatus.TODO, {"overdue", "escalation"}),
        (NOW - 5 * H, MilestoneStatus.DONE, set()),
        (NOW - 5 * H, MilestoneStatus.CANCELLED, set()),
        (NOW + H, MilestoneStatus.DONE, set()),
    ],
)
def test_boundaries(team, due, status, expected):
    node = team.node(due, status=status)
    with time_machine.travel(NOW, tick=False):
        scan()
    assert kinds(node) == expected
    in_episode = LatenessEpisode.objects.filter(milestone=node, ended_at__isnull=True).exists()
    assert in_episode == ("overdue" in expected)


@pytest.mark.parametrize(
    ("window", "escalate_after", "due", "expected"),
    [
        (2 * H, 48 * H, NOW + 2 * H, {"due_soon"}),
        (2 * H, 48 * H, NOW + 2 * H + US, set()),
        (timedelta(0), 48 * H, NOW + H, set()),
        (24 * H, 4 * H, NOW - 4 * H, {"overdue"}),
        (24 * H, 4 * H, NOW - 4 * H - US, {"overdue", "escalation"}),
    ],
)
def test_project_settings(team, window, escalate_after, due, expected):
    team.project.due_soon_window = window
    team.project.escalate_after = escalate_after
    team.project.save()
    node = team.node(due)
    with time_machine.travel(NOW, tick=False):
        scan()
    assert kinds(node) == expected


@pytest.mark.parametrize("status", [ProjectStatus.CLOSED, ProjectStatus.ARCHIVED])
def test_quiet_projects_raise_nothing(team, status):
    team.project.status = status
    team.project.save()
    overdue = team.node(NOW - H)
    soon = team.node(NOW + H)
    with time_machine.travel(NOW, tick=False):
        result = scan()
    assert result == ScanResult()
    assert not Alert.objects.exists()
    assert not LatenessEpisode.objects.filter(milestone__in=[overdue, soon]).exists()


def test_escalation_comes_a_scan_later(team):
    node = team.node(NOW - H)
    with time_machine.travel(NOW, tick=False):
        assert scan().overdue == 1
    with time_machine.travel(NOW + 47 * H, tick=False):
        assert scan().escalated == 0
    with time_machine.travel(NOW + 47 * H + US, tick=False):
        assert scan().escalated == 1
    assert kinds(node) == {"overdue", "escalation"}


def test_an_escalated_episode_marks_its_rung(team):
    soon, later = team.node(NOW - 49 * H), team.node(NOW - 3 * H)
    with time_machine.travel(NOW - 2 * H, tick=False):
        assert scan() == ScanResult(overdue=2, messages=1)  # one email to lena
    with time_machine.travel(NOW, tick=False):
        assert scan().escalated == 1
    rungs = dict(LatenessEpisode.objects.values_list("milestone_id", "rung"))
    assert rungs == {soon.pk: 2, later.pk: 1}


def test_rescan_raises_and_sends_nothing_new(team):
    team.node(NOW - 3 * H)
    team.node(NOW + 3 * H)
    team.node(NOW - 50 * H, assignee=None)
    with time_machine.travel(NOW, tick=False):
        first = scan()
        again = scan()
    with time_machine.travel(NOW + 10 * M, tick=False):
        later = scan()
    assert first == ScanResult(overdue=2, escalated=1, due_soon=1, messages=2)  # lena, li
    assert again == later == ScanResult()
    assert Alert.objects.count() == 4
    assert OutboxMessage.objects.count() == 2


def test_moving_a_node_later_keeps_its_episode_and_a_new_date_passing_alerts_nothing(team):
    node = team.node(NOW - H)
    with time_machine.travel(NOW, tick=False):
        scan()
    with time_machine.travel(NOW + 10 * M, tick=False):
        milestone_update(milestone_id=node.pk, actor=team.lead, data={"due_at": NOW + 2 * 24 * H})
        result = scan()
    assert result.resolved == 0  # the episode goes on: its overdue notice stays open

    with time_machine.travel(NOW + 2 * 24 * H + M, tick=False):
        result = scan()
    assert result.overdue == 0  # judged: inside its episode
    assert list(
        Alert.objects.filter(milestone=node, kind=AlertKind.OVERDUE).values_list(
            "due_at", "resolved_at"
        )
    ) == [(NOW - H, None)]
    assert LatenessEpisode.objects.get(milestone=node).started_at == NOW - H


def test_moving_later_but_still_past_neither_resolves_nor_alerts(team):
    node = team.node(NOW - 5 * H)
    with time_machine.travel(NOW, tick=False):
        scan()
        milestone_update(milestone_id=node.pk, actor=team.lead, data={"due_at": NOW - H})
        result = scan()
    assert (result.resolved, result.overdue) == (0, 0)
    assert Alert.objects.open().get(milestone=node).due_at == NOW - 5 * H


def test_moving_earlier_keeps_the_alert_open(team):
    node = team.node(NOW + 5 * H)
    with time_machine.travel(NOW, tick=False):
        scan()
        milestone_update(milestone_id=node.pk, actor=team.lead, data={"due_at": NOW + 2 * H})
        result = scan()
    assert result == ScanResult(due_soon=1, messages=1)
    assert Alert.objects.open().filter(milestone=node).count() == 2


@pytest.mark.parametrize("status", [MilestoneStatus.DONE, MilestoneStatus.CANCELLED])
def test_finishing_resolves_every_open_alert_once(team, status):
    node = team.node(NOW - 50 * H)
    with time_machine.travel(NOW, tick=False):
        scan()
        milestone_update(milestone_id=node.pk, actor=team.assignee, data={"status": status})
    with time_machine.travel(NOW + M, tick=False):
        assert scan().resolved == 1
        assert scan().resolved == 0
    assert not Alert.objects.open().filter(milestone=node).exists()
    assert Alert.objects.filter(milestone=node, kind=AlertKind.RESOLVED).count() == 1


def test_a_reopened_node_starts_a_new_episode(team):
    node = team.node(NOW - H)
    with time_machine.travel(NOW, tick=False):
        scan()
        milestone_update(milestone_id=node.pk, actor=team.lead, data={"status": "done"})
    with time_machine.travel(NOW + M, tick=False):
        scan()
        milestone_update(milestone_id=node.pk, actor=team.lead, data={"status": "todo"})
    with time_machine.travel(NOW + 2 * M, tick=False):
        result = scan()
    assert result == ScanResult(overdue=1, messages=1)
    episodes = LatenessEpisode.objects.filter(milestone=node).order_by("started_at")
    assert [(e.started_at, e.ended_at) for e in episodes] == [
        (NOW - H, NOW),  # ended at the node's completion
        (NOW, None),  # overdue again from when the first one ended
    ]
    assert Alert.objects.filter(milestone=node, kind=AlertKind.OVERDUE).count() == 2


# Recipients ----------------------------------------------------------------------------------


def recipients(alert_kind: str) -> set[str]:
    """Who has an email (queued or held) listing an alert of this kind."""
    ids = set(Alert.objects.filter(kind=alert_kind).values_list("pk", flat=True))
    return {
        message.recipient.username
        for message in OutboxMessage.objects.filter(recipient__isnull=False).select_related(
            "recipient"
        )
        if ids & set(message.payload["alert_ids"])
    }


@pytest.mark.parametrize(
    ("due", "assigned", "kind", "expected"),
    [
        (NOW + H, True, "due_soon", {"lena"}),
        (NOW + H, False, "due_soon", {"li"}),  # nobody assigned: the lead
        (NOW - H, True, "overdue", {"lena"}),  # the ladder's first rung: the assignee
        (NOW - H, False, "overdue", {"li"}),  # nobody assigned: the lead
        (NOW - 49 * H, True, "escalation", {"li"}),  # the second: the lead
    ],
)
def test_recipients(team, due, assigned, kind, expected):
    team.node(due, assignee=team.assignee if assigned else None)
    with time_machine.travel(NOW, tick=False):
        scan()
    assert recipients(kind) == expected


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (NOW + H, set()),  # only reminded: finishing on time emails nobody
        (NOW - H, {"lena"}),
        (NOW - 49 * H, {"lena", "li"}),
    ],
)
def test_resolved_goes_to_whoever_heard_of_the_problem(team, due, expected):
    node = team.node(due)
    with time_machine.travel(NOW, tick=False):
        scan()
        milestone_update(milestone_id=node.pk, actor=team.assignee, data={"status": "done"})
        scan()
    assert recipients(AlertKind.RESOLVED) == expected


def test_inactive_and_addressless_people_get_nothing_and_muted_ones_later(team):
    team.assignee.muted_projects.add(team.project)
    team.lead.email = ""
    team.lead.save()
    team.node(NOW - 49 * H)
    with time_machine.travel(NOW, tick=False):
        result = scan()
    assert (result.overdue, result.escalated, result.messages) == (1, 1, 0)
    (held,) = OutboxMessage.objects.all()  # the muted assignee's, for a digest after unmuting
    assert (held.recipient, held.status) == (team.assignee, OutboxStatus.HELD)
    assert held.payload["muted_project"] == team.project.pk
    assert alerts_digest_send(now=NOW + H) == 0  # still muted: it waits
    team.assignee.muted_projects.remove(team.project)
    assert alerts_digest_send(now=NOW + 2 * H) == 1
    held.refresh_from_db()
    assert held.status == OutboxStatus.MERGED


def test_digest_mode_waits_for_the_digest(team):
    prefer_digest(team.assignee)
    team.node(NOW - H)
    team.node(NOW + H)
    with time_machine.travel(NOW, tick=False):
        result = scan()
    assert result.messages == 0  # the ladder's first rung is the assignee's alone
    (held,) = OutboxMessage.objects.filter(recipient=team.assignee)
    assert held.status == OutboxStatus.HELD
    assert len(held.payload["alert_ids"]) == 2
    with time_machine.travel(NOW + 5 * H, tick=False):
        scan()  # the reminded node is overdue now: held too, for the same digest
    assert OutboxMessage.objects.filter(recipient=team.assignee, status="held").count() == 2

    assert alerts_digest_send(now=NOW + 14 * H) == 1
    assert alerts_digest_send(now=NOW + 14 * H) == 0
    digest = OutboxMessage.objects.get(event="digest")
    assert (digest.recipient, digest.status) == (team.assignee, OutboxStatus.PENDING)
    assert digest.payload["alert_ids"] == sorted(
        Alert.objects.filter(kind__in=["overdue", "due_soon"]).values_list("pk", flat=True)
    )
    assert set(
        OutboxMessage.objects.filter(event="alerts", recipient=team.assignee).values_list(
            "status", flat=True
        )
    ) == {OutboxStatus.MERGED}


# Shape and cost ------------------------------------------------------------------------------


def populate(count: int) -> None:
    for _ in range(count):
        lead = UserFactory()
        department = DepartmentFactory(lead=lead)
        project = ProjectFactory(status=ProjectStatus.ACTIVE)
        for due in (NOW - H, NOW - 50 * H, NOW + H):
            MilestoneFactory(
                project=project, department=department, assignee=UserFactory(), due_at=due
            )
        done = MilestoneFactory(project=project, department=department, due_at=NOW - 2 * H)
        Alert.objects.create(
            milestone=done,
            project=project,
            department=department,
            kind="overdue",
            due_at=done.due_at,
            scan_id=uuid4(),
        )
        Milestone.objects.filter(pk=done.pk).update(status="done", completed_at=NOW - H)


@pytest.mark.parametrize("size", [1, 12])
def test_scan_costs_a_constant_number_of_queries(db, size):
    with time_machine.travel(NOW - 2 * H, tick=False):  # written before the watermark's margin
        populate(size)
    with CaptureQueriesContext(connection) as queries:
        result = alerts_scan(now=NOW, lock=ScanLock.NONE)
    assert result.overdue == 2 * size and result.resolved == size
    # PostgreSQL: savepoint 2, no JIT and the node-deletion lock 1, the quarter-hour watermark 4
    # (look, create, lock, advance), episodes closed past the services 1, resolve 3, the
    # overdue step's mark 2 (move, and create the first time), overdue 1 (episodes and alerts
    # in one statement), the projects' working deadlines 1 (the calendar adds 1 per year it
    # reads), the ladder 7 (the probe of the open episodes 1, the projects' ladder 1, three
    # rungs 3, nudges 2: the scan's new episodes' slots and the nudges; a broken promise's step
    # only when the probe finds a promise), due soon 1, fan-out 4 (hash joins on and off,
    # emails with the inbox items, channels): the same for 4 nodes or 48 (resolve adds 2 per
    # 5,000 alerts closed; a rung or a nudge raised adds its mark). SQLite: no planner settings
    # (-3), overdue in two statements (+1), its mark's look, create, lock and advance (+2), the
    # inbox items a statement of their own (+1). The
    # forecast step 7: the stale projects 1, their nodes
    # and links 2, the changed forecasts 1 (per thousand nodes), the projects' forecasts 1,
    # forecast_slip 1, the D-day threats 1, however many projects.
    expected = {"postgresql": 34, "sqlite": 35}[connection.vendor]
    assert len(queries) == expected, [q["sql"][:80] for q in queries]
    # The next run, from the watermarks, finding nothing: savepoint 2, no JIT 1, watermark 2,
    # episodes closed past the services 1, resolve 1, the overdue step's mark 1, overdue 1,
    # the ladder 5 (the probe 1;
    # the projects' ladder 1 and the three rungs 3, because the probe finds episodes below the
    # top rung older than the rungs' moments, which only the projects' first working day holds
    # back, issue 16), working deadlines 1, due soon 3 (the projects changed, the window's new
    # due dates, the changed nodes), the stale projects 1 (none), forecast_slip 1, the D-day
    # threats 1; on SQLite no JIT -1, overdue +1 (episodes and alerts are two statements
    # there), its mark +1 (lock, advance).
    with (
        time_machine.travel(NOW + timedelta(minutes=1), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert alerts_scan(now=timezone.now(), lock=ScanLock.NONE) == ScanResult()
    expected = {"postgresql": 21, "sqlite": 22}[connection.vendor]
    assert len(queries) == expected, [q["sql"][:80] for q in queries]


@pytest.mark.parametrize("size", [1, 12])
def test_an_empty_minute_with_the_ladder_at_its_top_is_the_overdue_step_and_one_probe(db, size):
    with time_machine.travel(NOW - 2 * H, tick=False):
        populate(size)
    alerts_scan(now=NOW, lock=ScanLock.NONE)
    # Every open episode has climbed to the top and been nudged to the last slot, no promise.
    assert LatenessEpisode.objects.filter(ended_at__isnull=True).update(rung=4, nudges=20) > 0
    with (
        time_machine.travel(NOW + timedelta(minutes=1), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert alerts_scan(now=timezone.now(), lock=ScanLock.NONE, due_soon=False) == ScanResult()
    # Savepoint 2, no JIT and the node-deletion lock 1, the overdue step's mark 1, overdue 1,
    # the ladder's probe 1 (no ladder moments worked out); SQLite: no JIT -1, overdue in two
    # statements +1, its mark +1 (lock, advance).
    expected = {"postgresql": 6, "sqlite": 7}[connection.vendor]
    assert len(queries) == expected, [q["sql"][:80] for q in queries]


def test_an_episode_younger_than_every_delay_costs_the_probe_alone(team):
    """The clock bound (`Pending.may_climb`): working time passes no faster than the clock,
    so an episode that started less than the shortest delay ago needs no ladder moments worked
    out; once it is older, they are, and it climbs."""
    node = team.node(NOW - H)
    with time_machine.travel(NOW, tick=False):
        assert scan(lock=ScanLock.NONE).overdue == 1
    minute = {"lock": ScanLock.NONE, "due_soon": False}
    with (
        time_machine.travel(NOW + M, tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert scan(**minute) == ScanResult()
    # Savepoint 2, no JIT and the lock 1, the mark 1, overdue 1, the probe 1 (SQLite: no JIT
    # -1, overdue in two statements +1, its mark +1): no projects' ladder read.
    assert len(queries) == {"postgresql": 6, "sqlite": 7}[connection.vendor]
    assert not any("escalate_after" in q["sql"] and "GROUP BY" in q["sql"] for q in queries)
    with time_machine.travel(NOW + 3 * 24 * H, tick=False):
        assert scan(**minute).escalated == 1  # 48 working hours later: the lead's rung
    assert "escalation" in kinds(node)


def test_nudges_by_a_projects_own_working_day_leave_the_bound_unknown(team):
    """A project with working hours of its own and no nudge interval nudges once per its own
    working day, which the probe cannot tell: the ladder's moments are worked out."""
    team.project.working_hours = "10:00-12:00"
    team.project.nudge_every = None
    team.project.save()
    team.node(NOW - H)
    with time_machine.travel(NOW, tick=False):
        scan(lock=ScanLock.NONE)
    with (
        time_machine.travel(NOW + M, tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        scan(lock=ScanLock.NONE, due_soon=False)
    assert any("escalate_after" in q["sql"] and "GROUP BY" in q["sql"] for q in queries)


@pytest.mark.postgresql(reason="an advisory lock; on SQLite a racing scan waits for the write lock")
def test_a_held_lock_skips_the_beat_run(transactional_db, team):
    team.node(NOW - H)
    key = lock_key(scan_lock_name(Step.ALL))
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        assert alerts_scan(now=NOW, lock=ScanLock.TRY) == ScanResult(skipped=True)
        assert alerts_scan(now=NOW, lock=ScanLock.NONE).overdue == 1
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert alerts_scan(now=NOW, lock=ScanLock.TRY) == ScanResult()


def test_advisory_lock_is_per_transaction(transactional_db):
    from django.db import transaction

    with transaction.atomic():
        assert scan_begin("probe", wait=False)
    with transaction.atomic():
        assert scan_begin("probe", wait=False)


@pytest.mark.postgresql(reason="the node-deletion lock is a PostgreSQL advisory lock")
def test_a_node_deletion_waits_for_a_running_scan_and_a_scan_for_a_deletion(transactional_db, team):
    """The lock that stands in for the foreign key checks (`tracker.core.locks`): a scan holds
    its shared side, a deletion its exclusive side, each until its transaction ends."""
    from django.db import OperationalError, transaction

    from tracker.milestones.services import milestone_delete

    node = team.node(NOW - H)
    key = lock_key(NODE_DELETION)
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock_shared(%s)", [key])  # a scan, running
        with pytest.raises(OperationalError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            milestone_delete(milestone_id=node.pk, actor=team.project.owner)
        assert alerts_scan(now=NOW, lock=ScanLock.NONE).overdue == 1  # scans share it
        other.execute("SELECT pg_advisory_unlock_shared(%s)", [key])
        other.execute("SELECT pg_advisory_lock(%s)", [key])  # a deletion, running
        with pytest.raises(OperationalError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            alerts_scan(now=NOW + H, lock=ScanLock.NONE)
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    milestone_delete(
        milestone_id=node.pk, actor=team.project.owner
    )  # and takes what the scan wrote with it
    assert not Alert.objects.filter(milestone_id=node.pk).exists()
    assert not LatenessEpisode.objects.filter(milestone_id=node.pk).exists()
