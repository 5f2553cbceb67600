"""`flag_overdue`, `send_digests` and the default beat schedule."""

import importlib
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from tests.alerts.support import manage_py
from tests.factories import prefer_digest
from tracker.alerts.models import Alert
from tracker.notifications.models import OutboxMessage

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_flag_overdue_prints_the_counts(team):
    team.node(NOW - 2 * H)
    team.node(NOW - 50 * H, assignee=None)
    team.node(NOW + H)
    assert run("flag_overdue", "--now", "2026-11-02T18:00:00+08:00") == (
        "newly overdue: 2, escalated: 1, due soon: 1, resolved: 0, messages queued: 2"
    )
    assert run("flag_overdue", "--now", "2026-11-02T18:05:00+08:00") == (
        "newly overdue: 0, escalated: 0, due soon: 0, resolved: 0, messages queued: 0"
    )
    assert Alert.objects.count() == 4


def test_flag_overdue_reads_a_time_without_offset_in_time_zone(team):
    team.node(NOW - H)
    assert run("flag_overdue", "--now", "2026-11-02 16:59").startswith("newly overdue: 0")
    assert run("flag_overdue", "--now", "2026-11-02 17:01").startswith("newly overdue: 1")


def test_flag_overdue_defaults_to_the_clock(team):
    team.node(NOW - H)
    with time_machine.travel(NOW - 2 * H, tick=False):
        assert run("flag_overdue").startswith("newly overdue: 0")
    with time_machine.travel(NOW, tick=False):
        assert run("flag_overdue").startswith("newly overdue: 1")


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00", "", "2026-11-02T25:00"])
def test_flag_overdue_refuses_a_bad_moment(team, value):
    team.node(NOW - H)
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("flag_overdue", "--now", value or " ")
    assert not Alert.objects.exists()


def test_bad_moment_is_a_one_line_error_and_a_non_zero_exit():
    result = manage_py("flag_overdue", "--now", "soon")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: --now must be an ISO 8601 date and time, e.g. 2026-11-02T18:00:00+08:00."
    ]


def test_send_digests(team):
    prefer_digest(team.assignee)
    team.node(NOW + H)
    run("flag_overdue", "--now", NOW.isoformat())
    assert run("send_digests") == "digest emails queued: 1"
    assert run("send_digests") == "digest emails queued: 0"
    assert OutboxMessage.objects.filter(event="digest").count() == 1


@pytest.fixture
def default_schedule(db):
    """The data migration's rows, created afresh (transactional tests elsewhere empty tables)."""
    from django.apps import apps

    migration = importlib.import_module("tracker.alerts.migrations.0002_default_schedule")
    PeriodicTask.objects.filter(name__in=migration.SCHEDULE).delete()
    migration.create_schedule(apps, None)
    return migration


@pytest.mark.parametrize(
    ("name", "task", "cron"),
    [
        ("Overdue scan", "alerts.scan_overdue", ("*", "*", "*", "*")),
        ("Due-soon scan", "alerts.scan_due_soon", ("*/15", "*", "*", "*")),
        ("Outbox sweep", "notifications.outbox_flush", ("*", "*", "*", "*")),
        ("Daily alert digest", "alerts.send_digests", ("0", "8", "*", "*")),
        ("Weekly report", "reports.weekly", ("0", "9", "1", "*")),
        ("Monthly report", "reports.monthly", ("0", "9", "*", "1")),
    ],
)
def test_default_schedule(default_schedule, name, task, cron):
    entry = PeriodicTask.objects.select_related("crontab").get(name=name)
    schedule = entry.crontab
    assert entry.task == task and entry.enabled
    assert (schedule.minute, schedule.hour, schedule.day_of_week, schedule.day_of_month) == cron
    assert str(schedule.timezone) == "Asia/Shanghai"


def test_schedule_migration_keeps_an_admins_changes(default_schedule):
    from django.apps import apps

    PeriodicTask.objects.filter(name="Daily alert digest").update(enabled=False)
    default_schedule.create_schedule(apps, None)
    assert PeriodicTask.objects.filter(name__in=default_schedule.SCHEDULE).count() == 6
    assert not PeriodicTask.objects.get(name="Daily alert digest").enabled


def test_scheduled_tasks_are_registered(default_schedule):
    from config.celery import app

    app.loader.import_default_modules()
    names = set(
        PeriodicTask.objects.filter(name__in=default_schedule.SCHEDULE).values_list(
            "task", flat=True
        )
    )
    assert len(names) == 6
    assert names <= set(app.tasks)
