"""Due-soon reminders and escalations in working hours (09:00–12:00, 13:00–18:00), across a
weekend, a holiday and a make-up Saturday; quiet hours defer them, a war room does not, and
overdue notices never wait. Time-machine holds the clock."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from tests.alerts.support import make_team
from tests.factories import prefer_digest
from tracker.alerts.digest import alerts_digest_time
from tracker.alerts.models import Alert
from tracker.alerts.services import alerts_scan
from tracker.alerts.tasks import send_digests
from tracker.notifications.models import OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
US = timedelta(microseconds=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def team():
    team = make_team()
    team.project.war_room = False
    team.project.due_soon_window = 8 * H  # one working day
    team.project.escalate_after = 16 * H  # two working days
    team.project.save()
    return team


def kinds_at(node, moment: str) -> set[str]:
    with time_machine.travel(at(moment), tick=False):
        alerts_scan(now=timezone.now())
    return set(Alert.objects.filter(milestone=node).values_list("kind", flat=True))


@pytest.mark.parametrize(
    ("due", "moment", "expected"),
    [
        # Friday 18:00, 16 working hours: escalates when Tuesday's working day ends, with the
        # scan just after 18:00 (not Sunday 18:01, and not Wednesday morning).
        ("2026-11-06 18:00", "2026-11-08 18:01", {"overdue"}),
        ("2026-11-06 18:00", "2026-11-10 17:59", {"overdue"}),
        ("2026-11-06 18:00", "2026-11-10 18:01", {"overdue", "escalation"}),
        ("2026-11-06 18:00", "2026-11-11 09:00", {"overdue", "escalation"}),
        # A node due on the Saturday starts counting on Monday 09:00: Tuesday 18:00 too.
        ("2026-11-07 10:00", "2026-11-10 17:59", {"overdue"}),
        ("2026-11-07 10:00", "2026-11-10 18:01", {"overdue", "escalation"}),
        # Across National Day: Wednesday 09-30 18:00 reaches 16 h at Friday 10-09, 18:00.
        ("2026-09-30 18:00", "2026-10-09 17:00", {"overdue"}),
        ("2026-09-30 18:00", "2026-10-09 18:01", {"overdue", "escalation"}),
        # Sunday 09-20 is worked: Friday 09-18 18:00 reaches 16 h on Monday 09-21 at 18:00.
        ("2026-09-18 18:00", "2026-09-21 17:00", {"overdue"}),
        ("2026-09-18 18:00", "2026-09-21 18:01", {"overdue", "escalation"}),
        # Two minutes after a period ends the grace is over: the rest waits for the morning.
        ("2026-09-18 18:00", "2026-09-21 18:05", {"overdue"}),
    ],
)
def test_escalation_counts_working_hours(team, due, moment, expected):
    node = team.node(at(due))
    # A scan at the due time (18:00, just as the period ends: its reminder still goes out).
    assert kinds_at(node, due) <= {"due_soon"}  # not overdue yet
    assert kinds_at(node, moment) - {"due_soon"} == expected


@pytest.mark.parametrize(
    ("due", "moment", "expected"),
    [
        # Monday 10:00 with an 8-working-hour window: reminded from Friday 10:00.
        ("2026-11-09 10:00", "2026-11-06 09:59", set()),
        ("2026-11-06 10:00", "2026-11-05 10:00", {"due_soon"}),
        ("2026-11-09 10:00", "2026-11-06 10:00", {"due_soon"}),
        # Monday 09:00 is as near as Friday 18:00: within the window all Friday.
        ("2026-11-09 09:00", "2026-11-06 09:00", {"due_soon"}),
        # The first working day after National Day: reminded on 09-30.
        ("2026-10-08 12:00", "2026-09-30 11:00", set()),  # 1 + 5 + 3 working hours
        ("2026-10-08 12:00", "2026-09-30 13:00", {"due_soon"}),  # 5 + 3
        # The make-up Saturday is a working day: a Monday node is reminded on it.
        ("2026-10-12 10:00", "2026-10-10 10:00", {"due_soon"}),
    ],
)
def test_due_soon_counts_working_hours(team, due, moment, expected):
    node = team.node(at(due))
    assert kinds_at(node, moment) == expected


def test_quiet_hours_defer_reminders_but_not_overdue(team):
    soon = team.node(at("2026-11-09 10:00"))
    late = team.node(at("2026-11-07 10:00"))  # a Saturday node, overdue on Saturday 10:00
    assert kinds_at(soon, "2026-11-07 11:00") == set()  # Saturday: the reminder waits
    assert kinds_at(late, "2026-11-07 11:00") == {"overdue"}  # overdue goes out at once
    assert kinds_at(soon, "2026-11-09 08:59") == set()
    assert kinds_at(soon, "2026-11-09 09:00") == {"due_soon"}  # the next working period


def test_lunch_is_quiet_too(team):
    node = team.node(at("2026-11-09 15:00"))
    assert kinds_at(node, "2026-11-09 12:30") == set()
    assert kinds_at(node, "2026-11-09 13:00") == {"due_soon"}


def test_the_switch_turns_quiet_hours_off(team, settings):
    settings.ALERTS_AT_ANY_HOUR = True
    node = team.node(at("2026-11-09 10:00"))
    assert kinds_at(node, "2026-11-07 11:00") == {"due_soon"}


def test_a_war_room_goes_out_day_and_night(team):
    team.project.war_room = True
    team.project.d_day = at("2026-11-11 00:00")
    team.project.war_room_days_before = 3
    team.project.war_room_days_after = 3
    team.project.save()
    node = team.node(at("2026-11-08 23:00"))  # Sunday night, D-3
    assert kinds_at(node, "2026-11-08 15:00") == {"due_soon"}
    assert kinds_at(node, "2026-11-09 01:00") == {"due_soon", "overdue"}
    # 16 hours around the clock after Sunday 23:00 is Monday 15:00.
    assert kinds_at(node, "2026-11-09 15:00") == {"due_soon", "overdue"}
    assert kinds_at(node, "2026-11-09 15:01") == {"due_soon", "overdue", "escalation"}


def test_projects_with_different_hours_each_get_their_own_moments(team):
    """Three projects, three settings, three moments: each node is judged by its own project's
    (the scan groups the settings in SQL and lists the ids of all but one group's projects)."""
    from tests.factories import ProjectFactory

    war_room = ProjectFactory(
        d_day=at("2026-11-11 00:00"),
        war_room_days_before=3,
        war_room_days_after=3,
        due_soon_window=8 * H,
    )
    late = ProjectFactory(war_room=False, working_hours="10:00-23:30", due_soon_window=8 * H)
    office = team.node(at("2026-11-10 10:30"))  # Monday 19:00 is quiet: nothing yet
    evening = team.node(at("2026-11-10 10:30"), project=late)  # 4.5 h tonight, 3.5 tomorrow
    night = team.node(at("2026-11-10 01:00"), project=war_room)  # 8 h around the clock: 03:00
    morning = team.node(at("2026-11-10 10:30"), project=war_room)
    with time_machine.travel(at("2026-11-09 19:00"), tick=False):
        alerts_scan(now=timezone.now())
    reminded = set(Alert.objects.filter(kind="due_soon").values_list("milestone", flat=True))
    assert reminded == {evening.pk, night.pk}
    assert not reminded & {office.pk, morning.pk}


def test_project_working_hours(team):
    team.project.working_hours = "10:00-19:00"
    team.project.save()
    # Friday 18:30 is working time until 19:00: 30 min, then Monday from 10:00.
    assert kinds_at(team.node(at("2026-11-09 17:30")), "2026-11-06 18:30") == {"due_soon"}
    assert kinds_at(team.node(at("2026-11-09 18:00")), "2026-11-06 18:30") == set()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-09 08:00", "2026-11-09 09:00"),  # the beat's 08:00 waits for 09:00
        ("2026-11-09 10:00", "2026-11-09 10:00"),
        ("2026-11-07 08:00", "2026-11-09 09:00"),  # Saturday: Monday
        ("2026-10-01 08:00", "2026-10-08 09:00"),  # National Day: the first day back
        ("2026-10-10 08:00", "2026-10-10 09:00"),  # the make-up Saturday is worked
    ],
)
def test_the_digest_waits_for_working_time(moment, expected):
    assert alerts_digest_time(now=at(moment)) == at(expected)


def test_a_quiet_digest_run_holds_everything(team):
    prefer_digest(team.assignee)
    kinds_at(team.node(at("2026-11-06 10:00")), "2026-11-06 11:00")  # overdue: held
    held = OutboxMessage.objects.filter(recipient=team.assignee, status=OutboxStatus.HELD)
    assert held.exists()
    with time_machine.travel(at("2026-11-07 08:00"), tick=False):
        assert send_digests() == 0  # Saturday: queued again for Monday 09:00
    assert held.exists()
    with time_machine.travel(at("2026-11-09 09:00"), tick=False):
        assert send_digests() == 1
    assert not held.exists()
