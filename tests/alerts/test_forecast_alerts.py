"""Forecast alerts (docs/forecast.md): `forecast_slip` to the assignee and the department lead
when a node's forecast passes its due date before it is overdue, `d_day_at_risk` to the project
owner when the critical path ends with negative float. Raised by the quarter-hour scan, once per
node and due date, grouped with the other alerts into one email per person, delivered to a real
SMTP server on loopback (and, in the last test, by a real worker through Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from tests.alerts.support import wait_until
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.services import alerts_scan
from tracker.alerts.tasks import scan_due_soon
from tracker.milestones.models import Milestone, MilestoneDependency
from tracker.milestones.services import milestone_update
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.notifications.outbox import outbox_flush

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = timedelta(days=1)


def link(node, upstream, lead=None):
    MilestoneDependency.objects.create(milestone=node, depends_on=upstream, min_lead_days=lead)


def scan_and_send(settings, now=NOW):
    settings.SITE_URL = "https://milepost.example.com"
    with time_machine.travel(now, tick=False):
        result = alerts_scan(now=timezone.now())
        outbox_flush(budget_seconds=30)
    return result


@pytest.fixture
def pushed(team):
    """Samples are 3 days overdue; the photo shoot, planned 5 days after them and due in 2,
    is forecast 3 days late; the D-day is a month away (and escalation ten days)."""
    team.project.d_day = NOW + 30 * DAY
    team.project.escalate_after = 10 * DAY
    team.project.save()
    samples = team.node(NOW - 3 * DAY, title="Supplier samples")
    shoot = team.node(NOW + 2 * DAY, title="Photo shoot")
    link(shoot, samples)
    return samples, shoot


def test_a_forecast_past_due_warns_assignee_and_lead_once(smtp, settings, team, pushed):
    _samples, shoot = pushed
    result = scan_and_send(settings)

    assert (result.overdue, result.forecast_slip, result.d_day_at_risk) == (1, 1, 0)
    shoot.refresh_from_db()
    assert shoot.forecast_at == NOW + 5 * DAY  # now + the 5-day planned gap, at its due time
    assert sorted(r.recipients[0] for r in smtp.handler.received) == [
        "lena@example.com",
        "li@example.com",
    ]
    for address in ("lena@example.com", "li@example.com"):
        (email,) = smtp.handler.to(address)  # grouped with the overdue alert: one email
        text = email.body()
        assert "[Forecast late] Photo shoot" in text
        assert "forecast to finish 2026-11-07 10:00, after its due date 2026-11-04 10:00" in text
        assert f'href="https://milepost.example.com/nodes/{shoot.pk}/"' in email.body("html")
    # The overdue notice is the assignee's (the ladder's first rung), most urgent first.
    text = smtp.handler.to("lena@example.com")[0].body()
    assert text.index("[Overdue] Supplier samples") < text.index("[Forecast late]")
    assert "[Overdue]" not in smtp.handler.to("li@example.com")[0].body()

    # Exactly once per node and forecast episode: later scans raise nothing more.
    smtp.handler.received.clear()
    assert scan_and_send(settings, NOW + timedelta(minutes=15)).forecast_slip == 0
    assert scan_and_send(settings, NOW + timedelta(hours=3)).forecast_slip == 0
    assert not smtp.handler.received

    # Re-planned later (still too early): that episode resolves, a new one starts.
    milestone_update(milestone_id=shoot.pk, actor=None, data={"due_at": NOW + 4 * DAY})
    assert scan_and_send(settings, NOW + timedelta(hours=4)).forecast_slip == 1
    alerts = Alert.objects.filter(milestone=shoot, kind=AlertKind.FORECAST_SLIP)
    assert sorted(a.due_at for a in alerts) == [NOW + 2 * DAY, NOW + 4 * DAY]
    assert [a.due_at for a in alerts if a.resolved_at is None] == [NOW + 4 * DAY]


def test_a_declared_lead_within_the_gap_raises_nothing(smtp, settings, team, pushed):
    """With a declared 1-day minimum lead the 5-day gap absorbs the 3 days: no warning."""
    _samples, shoot = pushed
    MilestoneDependency.objects.filter(milestone=shoot).update(min_lead_days=1)
    result = scan_and_send(settings)
    assert (result.overdue, result.forecast_slip) == (1, 0)
    assert not Milestone.objects.filter(pk=shoot.pk).at_risk().exists()


def test_a_threatened_d_day_warns_the_owner(smtp, settings, team):
    """The D-day is in two days; the launch node's forecast passes it by two days."""
    team.project.d_day = NOW + 2 * DAY
    team.project.escalate_after = 10 * DAY
    team.project.save()
    samples = team.node(NOW - 3 * DAY, title="Supplier samples")
    launch = team.node(NOW + 26 * timedelta(hours=1), title="Go live")
    link(launch, samples)
    result = scan_and_send(settings)

    assert (result.forecast_slip, result.d_day_at_risk) == (1, 1)
    launch.refresh_from_db()
    assert launch.on_critical_path and launch.float_days == -2
    (email,) = smtp.handler.to("olga@example.com")  # the owner: the D-day alert only
    text = email.body()
    assert "[D-day at risk] Go live" in text
    assert "Supplier samples" not in text
    assert scan_and_send(settings, NOW + timedelta(minutes=15)).d_day_at_risk == 0


def test_chinese_recipients_read_the_forecast_alert_in_chinese(smtp, settings, team, pushed):
    team.assignee.language = "zh-hans"
    team.assignee.save()
    scan_and_send(settings)
    (email,) = smtp.handler.to("lena@example.com")
    assert "[预测延期] Photo shoot" in email.body()
    assert "预计完成" in email.body()


def test_the_projects_whose_nodes_did_not_change_are_not_forecast_again(settings, team):
    """No overdue node and no change since the last scan: the scan leaves the forecast."""
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        team.project.d_day = NOW + 30 * DAY
        team.project.save()
        first = team.node(NOW + DAY, title="Brief")
        second = team.node(NOW + 3 * DAY, title="Design")
        link(second, first)
    with time_machine.travel(NOW, tick=False):
        alerts_scan(now=NOW)
    computed = team.project.forecast.computed_at
    with time_machine.travel(NOW + timedelta(minutes=15), tick=False):
        alerts_scan(now=NOW + timedelta(minutes=15))
    team.project.forecast.refresh_from_db()
    assert team.project.forecast.computed_at == computed
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        milestone_update(milestone_id=first.pk, actor=None, data={"due_at": NOW + 4 * DAY})
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        result = alerts_scan(now=NOW + timedelta(minutes=30))
    team.project.forecast.refresh_from_db()
    assert team.project.forecast.computed_at == NOW + timedelta(minutes=30)
    assert result.forecast_slip == 1  # Design now waits 2 days past its due date
    second.refresh_from_db()
    assert second.forecast_at == NOW + 4 * DAY  # lead 0: the gap is gone


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_forecast_alerts_through_redis_to_a_worker_and_smtp(celery_worker, smtp, team):
    now = timezone.now()
    team.project.d_day = now + 2 * DAY
    team.project.escalate_after = 10 * DAY
    team.project.save()
    samples = team.node(now - 3 * DAY, title="Supplier samples")
    launch = team.node(now + DAY, title="Go live")
    link(launch, samples)

    scan_due_soon.delay()
    wait_until(
        lambda: (
            OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() >= 3
            and not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
        ),
        timeout=30,
    )
    by_address = {r.recipients[0]: r for r in smtp.handler.received}
    assert sorted(by_address) == ["lena@example.com", "li@example.com", "olga@example.com"]
    # One entry per node, with every badge it has (due within a day, it is due soon too).
    for address, badge in (
        ("lena@example.com", "[Forecast late]"),
        ("li@example.com", "[Forecast late]"),
        ("olga@example.com", "[D-day at risk]"),
    ):
        (entry,) = [line for line in by_address[address].body().splitlines() if "Go live" in line]
        assert badge in entry, entry
    assert Alert.objects.filter(kind=AlertKind.FORECAST_SLIP).count() == 1
