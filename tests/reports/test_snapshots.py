"""Report snapshots: stored once per period and scope, sent once to owners, leads and channels,
emailed with the headline, the department table and the worst slips (a real SMTP server)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction

from tests.alerts.support import SmtpServer, Team, make_team
from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.milestones.models import MilestoneStatus
from tracker.notifications.models import Channel, OutboxMessage
from tracker.notifications.outbox import outbox_flush
from tracker.reports.models import ReportSnapshot
from tracker.reports.periods import parse_month, parse_week
from tracker.reports.selectors import deviation_report, monthly_report
from tracker.reports.services import (
    report_publish,
    report_run_scheduled,
    report_send,
    report_snapshot_save,
    report_to_json,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = parse_week("2026-W46")  # Monday 9 November – Monday 16 November
AFTER = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)  # the beat's Monday 09:00
D = timedelta(days=1)


@pytest.fixture
def team(db) -> Team:
    return make_team(baselined=True)


@pytest.fixture(scope="module")
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings) -> SmtpServer:
    return smtp_server.use(settings)


def week_of_work(team: Team) -> dict:
    """Four nodes due in W46: one on time, one a day late, one still open, one cancelled."""
    start = WEEK.start + timedelta(hours=18)
    done = MilestoneStatus.DONE
    return {
        "on_time": team.node(start, title="Banner copy", status=done),
        "late": team.node(
            start + D, title="Price approval", status=done, completed_at=start + 2 * D
        ),
        "open": team.node(start + 2 * D, title="Stock check"),
        "cancelled": team.node(start + 3 * D, status=MilestoneStatus.CANCELLED),
    }


def test_snapshot_holds_the_selectors_report(team):
    week_of_work(team)
    snapshot = report_snapshot_save(period=WEEK, as_of=AFTER)
    assert snapshot.data == report_to_json(deviation_report(period=WEEK, as_of=AFTER))
    assert (snapshot.kind, snapshot.label, snapshot.scope) == ("week", "2026-W46", "all")
    assert snapshot.data["due_count"] == 3
    assert snapshot.deviation_rate == pytest.approx(2 / 3, abs=1e-4)
    assert snapshot.breached


def test_one_snapshot_per_period_and_scope(team):
    week_of_work(team)
    first = report_snapshot_save(period=WEEK, as_of=AFTER)
    team.node(WEEK.start + timedelta(hours=20), status=MilestoneStatus.DONE)
    # Taken after the week closed, the snapshot is the figure of record: a rerun keeps it.
    again = report_snapshot_save(period=WEEK, as_of=AFTER + D)
    assert again.pk == first.pk and again.data["due_count"] == 3
    scoped = report_snapshot_save(period=WEEK, as_of=AFTER, project=team.project)
    by_department = report_snapshot_save(period=WEEK, as_of=AFTER, department=team.department)
    assert {scoped.scope, by_department.scope} == {f"project:{team.project.pk}", "department:merch"}
    assert ReportSnapshot.objects.count() == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportSnapshot.objects.create(
            kind="week",
            label="2026-W46",
            scope="all",
            period_start=WEEK.start,
            period_end=WEEK.end,
            as_of=AFTER,
            data={},
        )


def test_sent_once_to_owners_and_leads(team):
    week_of_work(team)
    elsewhere = DepartmentFactory(code="ops", lead=UserFactory(username="otto"))
    quiet = ProjectFactory(owner=UserFactory(username="quinn"))  # nothing due: not in the report
    MilestoneFactory(project=quiet, department=elsewhere, due_at=AFTER + 30 * D)
    published = report_publish(period=WEEK, as_of=AFTER)
    assert published.messages == 2
    assert sorted(OutboxMessage.objects.values_list("recipient__username", flat=True)) == [
        "li",
        "olga",
    ]
    assert report_send(snapshot=published.snapshot) == 0  # the same week again: nothing new
    assert report_publish(period=WEEK, as_of=AFTER + D).messages == 0


def test_channels_get_the_report_of_their_scope(team, settings):
    settings.SITE_URL = "https://milepost.example.com"
    week_of_work(team)
    everything = Channel.objects.create(
        name="all", kind="webhook", url="https://h.example.com/1", events=["weekly_report"]
    )
    room = Channel.objects.create(
        name="d11",
        kind="webhook",
        url="https://h.example.com/2",
        events=["weekly_report", "overdue"],
        project=team.project,
    )
    Channel.objects.create(
        name="alerts only", kind="webhook", url="https://h.example.com/3", events=["overdue"]
    )
    Channel.objects.create(
        name="monthly", kind="webhook", url="https://h.example.com/4", events=["monthly_report"]
    )
    published = report_run_scheduled(kind="week", now=AFTER)
    assert [p.snapshot.scope for p in published] == ["all", f"project:{team.project.pk}"]
    assert [p.messages for p in published] == [3, 1]  # owner, lead, channel; then the room

    payload = OutboxMessage.objects.get(channel=everything).payload
    assert payload["event"] == "weekly_report"
    assert payload["title"] == ("Weekly report 2026-W46: 66.7% of nodes deviated (above threshold)")
    assert payload["summary"] == "3 due: 1 on time, 1 late, 1 still open (threshold 10.0%)"
    assert payload["url"] == "https://milepost.example.com/reports/weekly/?period=2026-W46"
    assert payload["items"] == []
    assert payload["report"] == published[0].snapshot.data
    room_payload = OutboxMessage.objects.get(channel=room).payload
    assert room_payload["url"].endswith(f"?period=2026-W46&project={team.project.pk}")
    assert room_payload["report"]["by_project"][0]["id"] == team.project.pk


def test_weekly_email(smtp, team, settings):
    settings.SITE_URL = "https://milepost.example.com"
    nodes = week_of_work(team)
    with time_machine.travel(AFTER, tick=False):
        report_run_scheduled(kind="week", now=AFTER)
        outbox_flush(budget_seconds=30)
    assert sorted(r.recipients[0] for r in smtp.handler.received) == [
        "li@example.com",
        "olga@example.com",
    ]
    (email,) = smtp.handler.to("olga@example.com")
    assert email.subject == "Weekly report 2026-W46: 66.7% of nodes deviated (above threshold)"
    text, html = email.body(), email.body("html")
    assert "Deviation rate: 66.7% (threshold 10.0%)  ABOVE THRESHOLD" in text
    assert "Merchandising: 66.7% (3 due, 1 late, 1 open)" in text
    assert "Stock check · Double 11 · Merchandising: 4.62 days late" in text
    assert f"https://milepost.example.com/nodes/{nodes['open'].pk}/" in text
    assert "color:#b91c1c" in html and "above threshold" in html
    assert "Weekly trend" not in text


def test_monthly_email_has_the_weekly_trend(smtp, team, settings):
    week_of_work(team)
    month = parse_month("2026-11")
    after = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(after, tick=False):
        report_run_scheduled(kind="month", now=after)
        outbox_flush(budget_seconds=30)
    snapshot = ReportSnapshot.objects.get()
    assert (snapshot.kind, snapshot.label) == ("month", "2026-11")
    assert snapshot.data == report_to_json(monthly_report(period=month, as_of=after))
    (email,) = smtp.handler.to("li@example.com")
    assert email.subject.startswith("Monthly report 2026-11: 66.7% of nodes deviated")
    text = email.body()
    assert "Weekly trend" in text
    for week in ("2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"):
        assert week in text
    assert "2026-W46: 66.7% (3 due)" in text


def test_a_report_under_the_threshold_is_not_flagged(smtp, team):
    start = WEEK.start + timedelta(hours=18)
    for i in range(10):
        team.node(start + timedelta(hours=i), status=MilestoneStatus.DONE)
    with time_machine.travel(AFTER, tick=False):
        report_run_scheduled(kind="week", now=AFTER)
        outbox_flush(budget_seconds=30)
    (email,) = smtp.handler.to("olga@example.com")
    assert email.subject == "Weekly report 2026-W46: 0.0% of nodes deviated"
    assert "ABOVE THRESHOLD" not in email.body()
