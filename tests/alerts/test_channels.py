"""Chat channels get one outbox row per scan listing the new alerts they follow, in the payload
shape `tracker.core.delivery` documents."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import DepartmentFactory, ProjectFactory
from tracker.alerts.models import OutboxMessage
from tracker.alerts.services import alerts_scan
from tracker.integrations.models import Channel

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
    assert result.messages == 3 + 3  # lena, li, olga by email

    payload = rows["all"].payload
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
        "due_at": (NOW - 2 * H).isoformat(),
        "url": f"https://milepost.example.com/nodes/{late.pk}/",
    }
    assert [i["milestone_id"] for i in rows["d11"].payload["items"]] == [stuck.pk, late.pk]
    assert [i["kind"] for i in rows["merch"].payload["items"]] == ["escalation"]
    assert len(OutboxMessage.objects.get(channel=everything).payload["items"]) == 4
    assert len(OutboxMessage.objects.get(channel=project_room).payload["items"]) == 2
    assert len(OutboxMessage.objects.get(channel=merch_room).payload["items"]) == 1

    assert alerts_scan(now=NOW + H).messages == 0
    assert OutboxMessage.objects.filter(channel__isnull=False).count() == 3


@pytest.mark.parametrize("event", ["overdue", "escalation", "weekly_report"])
def test_channel_receives_matches_the_receiving_queryset(team, event):
    other_department = DepartmentFactory(code="ops")
    other_project = ProjectFactory()
    channels = [
        channel("all", [event]),
        channel("all, other events", ["due_soon"]),
        channel("project", [event], project=team.project),
        channel("other project", [event], project=other_project),
        channel("department", [event], department=team.department),
        channel("other department", [event], department=other_department),
        channel("off", [event], is_active=False),
    ]
    for project_id in (team.project.pk, other_project.pk, None):
        for department_id in (team.department.pk, other_department.pk, None):
            expected = set(
                Channel.objects.receiving(
                    event, project_id=project_id, department_id=department_id
                ).values_list("pk", flat=True)
            )
            matched = {
                c.pk
                for c in channels
                if c.receives(event=event, project_id=project_id, department_id=department_id)
            }
            assert matched == expected, (project_id, department_id)
