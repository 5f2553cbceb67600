"""The quarter-hour scan's watermark (`alerts.marks`): a run reads only what can have changed
since the previous one (nodes and projects written, due dates entering a window, nodes gone
overdue, a new local day), and still misses nothing. Everything here is written under
time-machine, so `updated_at` says when."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from tests.alerts.support import make_team
from tracker.alerts.models import Alert, AlertKind, ScanMark
from tracker.alerts.services import OVERDUE_MARK, QUARTER_MARK, alerts_scan
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.models import Project, ProjectStatus

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
M = timedelta(minutes=1)
H = timedelta(hours=1)


def quarter(moment: datetime):
    """The quarter-hour scan as of `moment`, with the clock held there."""
    with time_machine.travel(moment, tick=False):
        return alerts_scan(now=timezone.now(), overdue=False)


def full(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return alerts_scan(now=timezone.now())


@pytest.fixture
def team():
    """Written two hours before NOW: outside the watermark's margin from the first scan on."""
    with time_machine.travel(NOW - 2 * H, tick=False):
        team = make_team()
        team.project.due_soon_window = 24 * H
        team.project.save()
    return team


def node(team, due: datetime, **fields) -> Milestone:
    with time_machine.travel(NOW - 2 * H, tick=False):
        return team.node(due, **fields)


def test_the_scan_records_where_it_left_off(team):
    quarter(NOW)
    mark = ScanMark.objects.get(name=QUARTER_MARK)
    assert (mark.scanned_at, mark.reminded_until) == (NOW, NOW + 24 * H)
    quarter(NOW - H)  # a scan for an earlier moment reads everything and leaves the mark
    mark.refresh_from_db()
    assert mark.scanned_at == NOW


def test_a_due_date_entering_the_window_is_reminded_without_any_write(team):
    soon = node(team, NOW + 30 * H)
    assert quarter(NOW).due_soon == 0
    assert quarter(NOW + 15 * M).due_soon == 0
    assert quarter(NOW + 6 * H).due_soon == 1  # due in 24 h: the window's far edge
    assert quarter(NOW + 6 * H + 15 * M).due_soon == 0
    assert Alert.objects.get(kind=AlertKind.DUE_SOON).milestone_id == soon.pk


def test_a_project_whose_window_grows_reminds_its_nodes_at_once(team):
    node(team, NOW + 30 * H)
    assert quarter(NOW).due_soon == 0
    with time_machine.travel(NOW + 5 * M, tick=False):
        team.project.due_soon_window = 48 * H
        team.project.save()
    assert quarter(NOW + 15 * M).due_soon == 1


def test_a_node_moved_into_the_window_is_reminded(team):
    moved = node(team, NOW + 5 * 24 * H)
    assert quarter(NOW).due_soon == 0
    with time_machine.travel(NOW + 5 * M, tick=False):
        milestone_update(milestone_id=moved.pk, actor=team.lead, data={"due_at": NOW + 3 * H})
    assert quarter(NOW + 15 * M).due_soon == 1


def test_a_write_in_flight_during_the_previous_scan_is_still_read(team):
    """Stamped before the previous scan, committed after it: within the margin."""
    late = node(team, NOW - H)
    assert full(NOW).overdue == 1
    Milestone.objects.filter(pk=late.pk).update(
        status=MilestoneStatus.DONE, completed_at=NOW, updated_at=NOW - 10 * M
    )
    assert quarter(NOW + 15 * M).resolved == 1


def test_a_rescan_reads_only_the_nodes_written_since(team):
    """The watermark is what makes a rescan cheap: a node changed without stamping its
    `updated_at` (never done by the services) is left alone from the watermark on, and found by
    a scan that reads everything (the first, or one for an earlier moment)."""
    late = node(team, NOW - H)
    assert full(NOW).overdue == 1
    Milestone.objects.filter(pk=late.pk).update(status=MilestoneStatus.DONE, completed_at=NOW)
    assert quarter(NOW + 15 * M).resolved == 0
    assert quarter(NOW - M).resolved == 1


def test_an_overdue_node_moves_its_forecast_once_a_day(team):
    node(team, NOW - 3 * 24 * H)
    full(NOW)
    forecast = team.project.forecast
    assert forecast.computed_at == NOW
    full(NOW + 15 * M)
    forecast.refresh_from_db()
    assert forecast.computed_at == NOW  # same local day, nothing written: left as it is
    tomorrow = datetime(2026, 11, 3, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    full(tomorrow)
    forecast.refresh_from_db()
    assert forecast.computed_at == tomorrow


def test_a_node_going_overdue_between_scans_is_forecast_again(team):
    due = node(team, NOW + 10 * M)
    full(NOW)
    due.refresh_from_db()
    assert due.forecast_at == due.due_at  # not late yet
    full(NOW + 15 * M)
    due.refresh_from_db()
    assert due.forecast_at == NOW + 15 * M  # overdue: at the earliest now
    assert Milestone.objects.at_risk().filter(pk=due.pk).exists()


# The overdue step's mark (every minute): the scan never writes the node; what it judged is the
# node's open lateness episode and the mark, and a run reads only the due dates passed since,
# the nodes written since and the nodes of projects written since.


def minute(moment: datetime):
    """The every-minute scan as of `moment`, with the clock held there."""
    with time_machine.travel(moment, tick=False):
        return alerts_scan(now=timezone.now(), due_soon=False)


def test_the_overdue_step_records_where_it_left_off_and_never_writes_the_node(team):
    late = node(team, NOW - 3 * H)
    written = late.updated_at
    assert minute(NOW).overdue == 1
    assert ScanMark.objects.get(name=OVERDUE_MARK).scanned_at == NOW
    late.refresh_from_db()
    assert late.updated_at == written and late.version == 1
    assert minute(NOW + M).overdue == 0  # inside its episode: judged
    assert minute(NOW - H).overdue == 0  # an earlier moment reads everything, raises nothing
    assert ScanMark.objects.get(name=OVERDUE_MARK).scanned_at == NOW + M


def test_a_due_date_passing_between_runs_is_alerted_without_any_write(team):
    soon = node(team, NOW + 30 * M)
    assert minute(NOW).overdue == 0
    assert minute(NOW + 29 * M).overdue == 0
    assert minute(NOW + 31 * M).overdue == 1
    assert Alert.objects.get(kind=AlertKind.OVERDUE).milestone_id == soon.pk


def test_a_node_moved_into_the_past_is_alerted_at_the_next_run(team):
    moved = node(team, NOW + 5 * 24 * H)
    assert minute(NOW).overdue == 0
    with time_machine.travel(NOW + 5 * M, tick=False):
        milestone_update(milestone_id=moved.pk, actor=team.lead, data={"due_at": NOW - 24 * H})
    assert minute(NOW + 6 * M).overdue == 1  # due long before the mark, written after it


def test_a_reopened_node_starts_a_second_episode(team):
    late = node(team, NOW - 3 * H)
    assert minute(NOW).overdue == 1
    with time_machine.travel(NOW + 5 * M, tick=False):
        milestone_update(milestone_id=late.pk, actor=team.lead, data={"status": "done"})
    assert minute(NOW + 6 * M).overdue == 0
    with time_machine.travel(NOW + 10 * M, tick=False):
        milestone_update(milestone_id=late.pk, actor=team.lead, data={"status": "todo"})
    assert minute(NOW + 11 * M).overdue == 1
    assert late.episodes.count() == 2


def test_an_activated_project_has_its_past_nodes_judged(team):
    Project.objects.filter(pk=team.project.pk).update(status=ProjectStatus.PLANNING)
    node(team, NOW - 3 * H)
    assert minute(NOW).overdue == 0  # planning: left unjudged
    with time_machine.travel(NOW + 5 * M, tick=False):
        project = Project.objects.get(pk=team.project.pk)
        project.status = ProjectStatus.ACTIVE
        project.save()
    assert minute(NOW + 6 * M).overdue == 1  # due before the mark, its project written after
