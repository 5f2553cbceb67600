"""The escalation ladder of a lateness episode (docs/escalation.md), case by case on a held
clock, in Shanghai working hours (09:00–12:00, 13:00–18:00, 8 hours a day): the lead after 8
working hours, the owner after 16, the escalation contact after 24, a nudge every working day.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests.alerts.support import make_team
from tests.factories import UserFactory
from tracker.alerts.models import Alert, SnoozeVia
from tracker.alerts.services import ScanLock, alerts_scan
from tracker.alerts.snoozing import alert_snooze, snooze_until
from tracker.milestones.episodes import episode_acknowledge, replans_during
from tracker.milestones.models import LatenessEpisode, Milestone, Promise, PromiseOutcome
from tracker.milestones.services import deviation_reasons_install, milestone_update
from tracker.projects.models import Project, ProjectStatus
from tracker.reports.analysis import promises

SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
LADDER = ["overdue", "escalation", "escalation_owner", "escalation_contact"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def setup_team():
    team = make_team()
    team.contact = UserFactory(username="hou", email="hou@example.com")
    Project.objects.filter(pk=team.project.pk).update(
        war_room=False,
        escalate_after=8 * H,
        escalate_owner_after=16 * H,
        escalate_contact_after=24 * H,
        nudge_every=None,
        escalation_contact=team.contact,
    )
    team.project.refresh_from_db()
    deviation_reasons_install()
    return team


@pytest.fixture
def team(db):
    return setup_team()


def scan_at(moment: str):
    with time_machine.travel(at(moment), tick=False):
        return alerts_scan(now=timezone.now())


def kinds(node) -> list[str]:
    """The node's episodic alerts, in the order raised (nudges with their slot)."""
    return [
        f"{kind}{sequence or ''}"
        for kind, sequence in Alert.objects.filter(milestone=node, episode__isnull=False)
        .order_by("created_at", "id")
        .values_list("kind", "sequence")
    ]


def update(node, moment: str, actor, **data):
    with time_machine.travel(at(moment), tick=False):
        milestone_update(milestone_id=node.pk, actor=actor, data=data)


def acknowledge(node, moment: str, actor, promised: str):
    with time_machine.travel(at(moment), tick=False):
        return episode_acknowledge(
            milestone_id=node.pk,
            actor=actor,
            promised_at=at(promised),
            reason_code="supplier",
            note="Stock arrives Wednesday",
        )


def test_four_rungs_and_a_nudge_a_working_day_each_once(team):
    node = team.node(at("2026-11-02 10:00"))  # Monday
    scans = {
        "2026-11-02 10:01": ["overdue"],
        "2026-11-02 17:00": [],
        "2026-11-03 09:59": [],  # 7 h 59 min of working time
        "2026-11-03 10:01": ["escalation", "nudge1"],
        "2026-11-03 10:05": [],  # the next scan: nothing twice
        "2026-11-04 10:01": ["escalation_owner", "nudge2"],
        "2026-11-05 10:01": ["escalation_contact", "nudge3"],
        "2026-11-05 18:30": [],  # after hours
        "2026-11-06 10:01": ["nudge4"],
    }
    seen: list[str] = []
    for moment, expected in scans.items():
        scan_at(moment)
        new = kinds(node)[len(seen) :]
        assert sorted(new) == sorted(expected), moment
        seen += new
    assert LatenessEpisode.objects.get(milestone=node).rung == 4


@pytest.mark.parametrize(
    ("due", "before", "after"),
    [
        # Friday 17:00: one working hour on Friday, seven on Monday: the lead at Monday 17:00.
        ("2026-11-06 17:00", "2026-11-09 16:59", "2026-11-09 17:01"),
        # Across National Day (10-01 to 10-07): one hour on 09-30, seven on Thursday 10-08.
        ("2026-09-30 17:00", "2026-10-08 16:59", "2026-10-08 17:01"),
        # The make-up Saturday 10-10 is worked: Friday 10-09 17:00 reaches 8 h on it.
        ("2026-10-09 17:00", "2026-10-10 16:59", "2026-10-10 17:01"),
    ],
)
def test_working_hour_clocks_across_a_weekend_and_a_holiday(team, due, before, after):
    node = team.node(at(due))
    scan_at(due.replace(":00", ":01"))
    scan_at(before)
    assert kinds(node) == ["overdue"]
    scan_at(after)
    assert kinds(node) == ["overdue", "escalation", "nudge1"]


def test_a_replan_during_an_episode_does_not_reset_the_ladder(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    update(node, "2026-11-02 15:00", team.assignee, due_at=at("2026-11-05 18:00"))
    scan_at("2026-11-02 15:01")
    update(node, "2026-11-03 09:30", team.assignee, due_at=at("2026-11-06 18:00"))
    scan_at("2026-11-03 10:01")  # due in the future now, but the clock runs from the start
    assert kinds(node) == ["overdue", "escalation", "nudge1"]
    episode = LatenessEpisode.objects.get(milestone=node)
    assert (episode.started_at, episode.ended_at) == (at("2026-11-02 10:00"), None)
    assert replans_during(episode=episode) == 2
    assert not Alert.objects.filter(milestone=node, resolved_at__isnull=False).exists()


def test_a_replan_inside_an_episode_raises_no_due_soon_reminder(team):
    late = team.node(at("2026-11-02 10:00"), title="Late")
    other = team.node(at("2026-11-05 18:00"), title="On time")
    scan_at("2026-11-02 10:01")
    update(late, "2026-11-03 15:00", team.assignee, due_at=at("2026-11-05 18:00"))
    scan_at("2026-11-03 15:01")  # both due Thursday 18:00, inside the due-soon window
    due_soon = Alert.objects.filter(kind="due_soon")
    assert list(due_soon.values_list("milestone_id", flat=True)) == [other.pk]
    assert kinds(late) == ["overdue", "escalation", "nudge1"]  # the episode goes on


def test_a_replan_before_overdue_starts_no_episode(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 09:00")
    update(node, "2026-11-02 09:30", team.assignee, due_at=at("2026-11-04 10:00"))
    scan_at("2026-11-02 10:01")
    scan_at("2026-11-03 10:01")
    assert not LatenessEpisode.objects.filter(milestone=node).exists()
    assert kinds(node) == []


def test_a_promise_kept_holds_the_ladder_and_the_nudges(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    promise = acknowledge(node, "2026-11-02 11:00", team.assignee, "2026-11-04 12:00")
    scan_at("2026-11-03 10:01")
    scan_at("2026-11-04 10:01")
    assert kinds(node) == ["overdue"]  # neither the lead, the owner nor a nudge
    update(node, "2026-11-04 11:00", team.assignee, status="done")
    scan_at("2026-11-04 11:01")
    promise.refresh_from_db()
    assert promise.outcome == PromiseOutcome.KEPT
    episode = LatenessEpisode.objects.get(milestone=node)
    assert episode.ended_at == at("2026-11-04 11:00")
    node.refresh_from_db()
    assert node.baseline_due_at is None and node.due_at == at("2026-11-02 10:00")  # unchanged
    scan_at("2026-11-05 10:01")
    assert kinds(node) == ["overdue"]
    assert Promise.objects.judged().count() == Promise.objects.kept().count() == 1
    # The analysis's promise-kept rate reads it (with the re-plans' promises: none here).
    rows = list(promises(nodes=Milestone.objects.filter(pk=node.pk), as_of=at("2026-11-05 10:01")))
    assert [(r["promised_at"], r["kept"]) for r in rows] == [(at("2026-11-04 12:00"), True)]


def test_done_ends_the_episode_at_the_save_and_a_reopen_starts_a_new_one(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    promise = acknowledge(node, "2026-11-02 10:30", team.assignee, "2026-11-02 15:00")
    update(node, "2026-11-02 11:00", team.assignee, status="done")
    first = LatenessEpisode.objects.get(milestone=node)
    assert first.ended_at == at("2026-11-02 11:00")  # at the save, before any scan
    promise.refresh_from_db()
    assert promise.outcome == PromiseOutcome.KEPT
    update(node, "2026-11-02 11:00:30", team.assignee, status="in_progress")  # the same minute
    scan_at("2026-11-02 11:01")
    episodes = list(LatenessEpisode.objects.filter(milestone=node).order_by("started_at"))
    assert [(e.pk, e.started_at, e.ended_at) for e in episodes] == [
        (first.pk, at("2026-11-02 10:00"), at("2026-11-02 11:00")),
        (episodes[1].pk, at("2026-11-02 11:00"), None),
    ]
    assert kinds(node) == ["overdue", "overdue"]  # the new episode's first rung


def test_a_cancelled_node_s_episode_ends_at_the_save(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    promise = acknowledge(node, "2026-11-02 10:30", team.assignee, "2026-11-02 15:00")
    with time_machine.travel(at("2026-11-02 11:00"), tick=False):
        milestone_update(
            milestone_id=node.pk,
            actor=team.lead,
            data={"status": "cancelled"},
            reason_code="scope_change",
            change_reason="Dropped",
        )
    promise.refresh_from_db()
    episode = LatenessEpisode.objects.get(milestone=node)
    assert (episode.ended_at, promise.outcome) == (at("2026-11-02 11:00"), PromiseOutcome.VOID)


def test_the_scan_ends_an_episode_a_write_past_the_services_left_open(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    Milestone.objects.filter(pk=node.pk).update(status="done", completed_at=at("2026-11-02 11:00"))
    assert LatenessEpisode.objects.get(milestone=node).ended_at is None
    scan_at("2026-11-02 11:01")
    assert LatenessEpisode.objects.get(milestone=node).ended_at == at("2026-11-02 11:00")


def test_a_broken_promise_climbs_at_once_and_says_so(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    promise = acknowledge(node, "2026-11-02 11:00", team.lead, "2026-11-03 15:00")
    scan_at("2026-11-03 10:01")  # past the lead's delay, but the promise holds it
    assert kinds(node) == ["overdue"]
    scan_at("2026-11-03 15:01")  # the promise passed, the node still open: climbs now
    assert kinds(node) == ["overdue", "escalation", "nudge1"]  # and the nudges resume
    promise.refresh_from_db()
    assert (promise.outcome, promise.broken_at) == (PromiseOutcome.BROKEN, at("2026-11-03 15:01"))
    scan_at("2026-11-03 15:05")
    assert kinds(node) == ["overdue", "escalation", "nudge1"]  # once
    scan_at("2026-11-04 10:01")
    assert kinds(node)[-2:] == ["escalation_owner", "nudge2"]


def test_a_broken_promise_past_a_rung_climbs_the_next(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    scan_at("2026-11-03 10:01")  # the lead's rung
    acknowledge(node, "2026-11-03 11:00", team.assignee, "2026-11-03 16:00")
    scan_at("2026-11-03 16:01")
    assert kinds(node)[-1] == "escalation_owner"  # before its 16 hours: the promise broke


def test_a_snooze_pauses_the_nudges_until_it_ends(team):
    node = team.node(at("2026-11-02 10:00"))
    scan_at("2026-11-02 10:01")
    with time_machine.travel(at("2026-11-03 09:00"), tick=False):
        until = snooze_until("3h", now=timezone.now())
        alert_snooze(actor=team.assignee, milestone_id=node.pk, until=until, via=SnoozeVia.WEB)
    scan_at("2026-11-03 10:01")
    assert kinds(node) == ["overdue", "escalation"]  # the ladder still climbs
    scan_at("2026-11-03 11:59")
    assert kinds(node) == ["overdue", "escalation"]
    scan_at("2026-11-03 12:01")
    assert kinds(node) == ["overdue", "escalation", "nudge1"]


def test_a_project_younger_than_its_first_working_day_escalates_nothing(team):
    Project.objects.filter(pk=team.project.pk).update(
        created_at=at("2026-11-02 10:30"), escalate_after=H
    )
    node = team.node(at("2026-11-02 09:00"))
    scan_at("2026-11-02 10:31")
    scan_at("2026-11-02 17:00")
    assert kinds(node) == ["overdue"]
    scan_at("2026-11-03 10:31")  # a working day old
    assert "escalation" in kinds(node)


def test_a_planning_projects_past_nodes_wait_for_its_activation(team):
    Project.objects.filter(pk=team.project.pk).update(status=ProjectStatus.PLANNING)
    team.node(at("2026-11-02 09:00"))
    result = scan_at("2026-11-02 10:01")
    assert result.overdue == 0
    assert not LatenessEpisode.objects.exists()  # left unjudged
    Project.objects.filter(pk=team.project.pk).update(
        status=ProjectStatus.ACTIVE, updated_at=at("2026-11-02 10:01")
    )
    assert scan_at("2026-11-02 10:02").overdue == 1


@pytest.mark.postgresql(reason="threads racing on real row locks")
def test_four_racing_scans_raise_each_rung_once(transactional_db):
    team = setup_team()
    nodes = [team.node(at("2026-11-02 10:00"), title=f"Late {i}") for i in range(3)]
    start = threading.Barrier(4)
    results, errors = [], []

    def race():
        try:
            start.wait(10)
            with time_machine.travel(at("2026-11-05 10:01"), tick=False):
                results.append(alerts_scan(now=timezone.now(), lock=ScanLock.NONE))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(r.overdue for r in results) == 3
    for node in nodes:
        raised = kinds(node)
        # First judged three working days late: every rung at once, no nudge on top.
        assert sorted(raised) == sorted(LADDER)
    assert LatenessEpisode.objects.count() == 3
