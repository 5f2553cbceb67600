"""The signed webhook's body: every alert in one complete message, and every body Milepost
actually sends (alerts, reports, the test message) valid against the JSON Schema it ships."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker

from tests.factories import MilestoneFactory, ProjectFactory, UserFactory
from tracker.alerts.services import alerts_scan
from tracker.integrations.platforms.webhook import SCHEMA_ID
from tracker.integrations.services import channel_send_test
from tracker.notifications import tasks
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.projects.models import ProjectStatus
from tracker.reports.periods import week_period
from tracker.reports.services import report_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(owner):
    """An active project: a planning project's past-due nodes raise no alerts until it is
    active (docs/escalation.md)."""
    return ProjectFactory(owner=owner, name="Double 11", status=ProjectStatus.ACTIVE)


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "webhook-v1.json"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_ID
    return Draft202012Validator(schema, format_checker=FormatChecker())


def errors_of(validator, body) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(body)]


@pytest.mark.parametrize("count", [1, 45, 400])
def test_every_alert_reaches_the_webhook_in_one_complete_valid_message(
    count, validator, chat_server, make_channel, project
):
    channel = make_channel("webhook", project=project, events=["overdue"])
    nodes = [
        MilestoneFactory(
            project=project,
            title=f'Late {n}, "quoted"; 价格审批，签字',
            due_at=timezone.now() - timedelta(hours=n + 1),
        )
        for n in range(count)
    ]
    alerts_scan(now=timezone.now(), due_soon=False)
    tasks.outbox_flush()

    [request] = chat_server.received("webhook")
    assert request.verified is True
    body = request.json
    assert errors_of(validator, body) == []
    assert body["schema"] == SCHEMA_ID and body["type"] == "milestone.alerts"
    data = body["data"]
    assert data["item_count"] == len(data["items"]) == count
    assert "more_items" not in data
    assert {item["milestone_id"] for item in data["items"]} == {node.pk for node in nodes}
    assert OutboxMessage.objects.get(channel=channel).status == OutboxStatus.SENT


def test_alert_items_name_the_assignee_for_people_and_keep_the_username_for_programs(
    validator, chat_server, make_channel, project
):
    make_channel("webhook", project=project, events=["overdue"])
    make_channel("slack", project=project, events=["overdue"])
    lena = UserFactory(username="lena", first_name="Lena", last_name="Wang")
    MilestoneFactory(project=project, assignee=lena, due_at=timezone.now() - timedelta(hours=2))
    alerts_scan(now=timezone.now(), due_soon=False)
    tasks.outbox_flush()

    [webhook] = chat_server.received("webhook")
    assert errors_of(validator, webhook.json) == []
    [item] = webhook.json["data"]["items"]
    assert (item["assignee"], item["assignee_name"]) == ("lena", "Lena Wang")
    [slack] = chat_server.received("slack")
    text = json.dumps(slack.json, ensure_ascii=False)
    assert "Lena Wang" in text
    assert "· lena" not in text


def test_a_broken_body_fails_the_schema(validator):
    """The schema is not a rubber stamp: a cut list, a missing field or a wrong type fail."""
    good = {
        "schema": SCHEMA_ID,
        "type": "milestone.alerts",
        "timestamp": "2026-11-02T10:01:00+00:00",
        "data": {
            "event": "alerts",
            "title": "1 new alert",
            "url": "https://milepost.example.com/",
            "item_count": 1,
            "items": [
                {
                    "kind": "overdue",
                    "kind_label": "Overdue",
                    "milestone_id": 7,
                    "title": "Price approval",
                    "project_id": 1,
                    "project": "Double 11",
                    "department": "Merchandising",
                    "assignee": "",
                    "assignee_name": "",
                    "due_at": "2026-11-02T18:00:00+08:00",
                    "url": "https://milepost.example.com/nodes/7/",
                }
            ],
        },
    }
    assert errors_of(validator, good) == []
    for broken in (
        {**good, "type": "milestone.nothing"},
        {**good, "data": {**good["data"], "items": []}},
        {**good, "data": {k: v for k, v in good["data"].items() if k != "item_count"}},
        {**good, "data": {**good["data"], "items": [{**good["data"]["items"][0], "due_at": 5}]}},
        {**good, "type": "report.weekly"},  # a report without its report
    ):
        assert errors_of(validator, broken), broken


def test_report_and_test_messages_are_valid_too(validator, chat_server, make_channel, project):
    channel = make_channel("webhook", project=project, events=["weekly_report"])
    period = week_period(timezone.now() - timedelta(days=7))
    # Reports count baselined projects only.
    type(project).objects.filter(pk=project.pk).update(
        status="active", baselined_at=period.start - timedelta(days=30), baseline_number=1
    )
    MilestoneFactory(project=project, due_at=period.start + timedelta(days=1))
    report_publish(period=period, as_of=timezone.now(), project=project, email=False)
    tasks.outbox_flush()
    staff = UserFactory(is_staff=True)
    assert channel_send_test(channel_id=channel.pk, actor=staff).ok

    bodies = [request.json for request in chat_server.received("webhook")]
    assert [body["type"] for body in bodies] == ["report.weekly", "channel.test"]
    for body in bodies:
        assert errors_of(validator, body) == [], body
    assert bodies[0]["data"]["report"]["due_count"] >= 1
