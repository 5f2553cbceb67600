"""Chat channels get one outbox row per scan listing the new alerts they follow, sent in the
payload shape `tracker.core.delivery` documents."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.alerts.support import establish
from tests.factories import DepartmentFactory, ProjectFactory
from tracker.alerts.models import Alert
from tracker.alerts.services import alerts_scan
from tracker.notifications.chat import chat_payload
from tracker.notifications.models import Channel, OutboxMessage, OutboxStatus
from tracker.notifications.outbox import outbox_flush
from tracker.projects.models import ProjectStatus

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)


def channel(name: str, events: list[str], **scope) -> Channel:
    return Channel.objects.create(
        name=name, kind="webhook", url="https://hooks.example.com/x", events=events, **scope
    )


def test_one_message_per_channel_per_scan(team, settings):
    settings.SITE_URL = "https://milepost.example.com"
    elsewhere = ProjectFactory(name="618 Launch")
    everything = channel("all", ["overdue", "escalation", "due_soon"])
    project_room = channel("d11", ["overdue"], project=team.project)
    merch_room = channel("merch", ["escalation"], department=team.department)
    channel("other project", ["overdue"], project=elsewhere)
    channel("reports only", ["weekly_report"])
    channel("switched off", ["overdue"], is_active=False)

    late = team.node(NOW - 2 * H, title="Price approval")
    stuck = team.node(NOW - 60 * H, title="Stock check")
    team.node(NOW + H, title="Banner copy")
    result = alerts_scan(now=NOW)

    rows = {m.channel.name: m for m in OutboxMessage.objects.filter(channel__isnull=False)}
    assert sorted(rows) == ["all", "d11", "merch"]
    assert result.messages == 3 + 2  # lena (overdue), li (the lead's rung) by email

    payload = chat_payload(rows["all"])
    assert payload["event"] == "alerts"
    assert payload["title"] == "4 new alerts in Double 11"
    assert payload["summary"] == "1 escalation, 2 overdue, 1 due soon"
    assert payload["url"] == f"https://milepost.example.com/projects/{team.project.pk}/"
    assert [(i["kind"], i["title"]) for i in payload["items"]] == [
        ("escalation", "Stock check"),
        ("overdue", "Stock check"),
        ("overdue", "Price approval"),
        ("due_soon", "Banner copy"),
    ]
    assert payload["items"][2] == {
        "kind": "overdue",
        "kind_label": "Overdue",
        "milestone_id": late.pk,
        "title": "Price approval",
        "project_id": team.project.pk,
        "project": "Double 11",
        "department": "Merchandising",
        "assignee": "lena",
        "assignee_name": "lena",  # no full name: the username
        "due_at": (NOW - 2 * H).isoformat(),
        "url": f"https://milepost.example.com/nodes/{late.pk}/",
    }
    assert [i["milestone_id"] for i in chat_payload(rows["d11"])["items"]] == [stuck.pk, late.pk]
    assert [i["kind"] for i in chat_payload(rows["merch"])["items"]] == ["escalation"]
    assert len(chat_payload(OutboxMessage.objects.get(channel=everything))["items"]) == 4
    assert len(chat_payload(OutboxMessage.objects.get(channel=project_room))["items"]) == 2
    assert len(chat_payload(OutboxMessage.objects.get(channel=merch_room))["items"]) == 1

    assert alerts_scan(now=NOW + H).messages == 0
    assert OutboxMessage.objects.filter(channel__isnull=False).count() == 3


@pytest.mark.parametrize("event", ["overdue", "escalation", "weekly_report"])
def test_which_channels_receive_an_event(team, event):
    """The one rule (`CHANNEL_SCOPE`): active, following the event, and scoped to the event's
    project, its department, or neither."""
    other_department = DepartmentFactory(code="ops")
    other_project = ProjectFactory()
    channels = {
        "all": channel("all", [event]),
        "all, other events": channel("all, other events", ["due_soon"]),
        "project": channel("project", [event], project=team.project),
        "other project": channel("other project", [event], project=other_project),
        "department": channel("department", [event], department=team.department),
        "other department": channel("other department", [event], department=other_department),
        "off": channel("off", [event], is_active=False),
    }
    here, there = team.project.pk, team.department.pk
    cases = [
        (here, there, {"all", "project", "department"}),
        (here, None, {"all", "project"}),
        (None, there, {"all", "department"}),
        (None, None, {"all"}),
        (other_project.pk, other_department.pk, {"all", "other project", "other department"}),
    ]
    for project_id, department_id, expected in cases:
        received = {
            name
            for name, c in channels.items()
            if c.receives(event=event, project_id=project_id, department_id=department_id)
        }
        assert received == expected, (project_id, department_id)
    following = {c.name for c in Channel.objects.following(event)}
    assert following == set(channels) - {"all, other events", "off"}


def test_the_scan_matches_alerts_to_channels_as_channel_receives_says(team):
    """The scan's SQL matching and `Channel.receives` are one rule: every scope, every event."""
    other_department = DepartmentFactory(code="ops", lead=team.lead)
    other_project = establish(ProjectFactory(owner=team.owner, status=ProjectStatus.ACTIVE))
    channels = [
        channel("all", ["overdue", "escalation", "due_soon"]),
        channel("all, overdue", ["overdue"]),
        channel("all, reports", ["weekly_report"]),
        channel("project", ["overdue", "due_soon"], project=team.project),
        channel("other project", ["escalation", "overdue"], project=other_project),
        channel("department", ["escalation"], department=team.department),
        channel("other department", ["overdue", "due_soon"], department=other_department),
        channel("off", ["overdue", "escalation", "due_soon"], is_active=False),
    ]
    for project in (team.project, other_project):
        for department in (team.department, other_department):
            for due_at in (NOW - 2 * H, NOW - 60 * H, NOW + H):
                team.node(due_at, project=project, department=department)
    alerts_scan(now=NOW)

    alerts = list(Alert.objects.all())
    assert len(alerts) == 16  # 4 overdue, 4 overdue and escalated, 4 due soon
    queued = {
        m.channel_id: set(m.payload["alert_ids"])
        for m in OutboxMessage.objects.filter(channel__isnull=False)
    }
    for c in channels:
        expected = {
            a.pk
            for a in alerts
            if c.receives(event=a.kind, project_id=a.project_id, department_id=a.department_id)
        }
        assert queued.get(c.pk, set()) == expected, c.name


def test_a_chat_message_whose_nodes_are_gone_is_skipped(team):
    channel("all", ["overdue"])
    node = team.node(NOW - H)
    alerts_scan(now=NOW)
    node.delete()
    outbox_flush(budget_seconds=30)
    message = OutboxMessage.objects.get(channel__isnull=False)
    assert message.status == OutboxStatus.SKIPPED
