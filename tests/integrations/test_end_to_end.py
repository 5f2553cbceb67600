"""From a scan to the group chat: overdue nodes → alerts scan → one outbox row per channel →
the outbox task → deliver_chat → the loopback platform, which checks the signature."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.factories import MilestoneFactory, ProjectFactory
from tracker.alerts.services import alerts_scan
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


def test_overdue_nodes_reach_the_group_as_one_signed_grouped_message(
    chat_server, make_channel, project
):
    channel = make_channel("feishu", project=project, events=["overdue", "escalation"])
    late = [
        MilestoneFactory(
            project=project, title=f"Late {n}", due_at=timezone.now() - timedelta(hours=n + 1)
        )
        for n in range(3)
    ]
    MilestoneFactory(
        project=ProjectFactory(), due_at=timezone.now() - timedelta(hours=1)
    )  # not this channel's
    MilestoneFactory(project=project, due_at=timezone.now() + timedelta(days=3))  # not late

    alerts_scan(now=timezone.now(), due_soon=False)
    [message] = OutboxMessage.objects.filter(channel=channel)
    assert message.status == OutboxStatus.PENDING

    tasks.outbox_flush()

    [request] = chat_server.received("feishu")
    assert request.verified is True
    card = request.json["card"]
    text = str(card)
    assert all(f"#{node.pk} Late" in text for node in late)
    assert card["header"]["template"] == "red"
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert '"code": 0' in message.response

    # A second scan and flush find nothing new: no second message.
    alerts_scan(now=timezone.now(), due_soon=False)
    tasks.outbox_flush()
    assert len(chat_server.received("feishu")) == 1


def test_a_429_is_retried_after_retry_after_and_then_delivered(chat_server, make_channel, project):
    channel = make_channel("slack", project=project)
    MilestoneFactory(project=project, due_at=timezone.now() - timedelta(hours=1))
    alerts_scan(now=timezone.now(), due_soon=False)
    chat_server.answer(
        "/slack/services/T000/B000/XXXX", 429, "rate_limited", headers={"Retry-After": "600"}
    )

    tasks.outbox_flush()
    message = OutboxMessage.objects.get(channel=channel)
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.next_attempt_at >= timezone.now() + timedelta(seconds=590)

    with time_machine.travel(timezone.now() + timedelta(seconds=601), tick=True):
        tasks.outbox_flush()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert len(chat_server.received("slack")) == 2


def test_a_permanent_answer_is_recorded_not_retried(chat_server, make_channel, project):
    channel = make_channel("dingtalk", project=project)
    MilestoneFactory(project=project, due_at=timezone.now() - timedelta(hours=1))
    alerts_scan(now=timezone.now(), due_soon=False)
    chat_server.answer(
        "/dingtalk/robot/send", 200, '{"errcode": 310000, "errmsg": "keywords not in content"}'
    )
    tasks.outbox_flush()
    message = OutboxMessage.objects.get(channel=channel)
    assert message.status == OutboxStatus.FAILED
    assert "310000" in message.last_error


def test_dingtalks_limit_queues_the_21st_message_without_counting_an_attempt(
    chat_server, make_channel
):
    channel = make_channel("dingtalk")
    start = timezone.now()
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            event="test",  # stored whole (alert messages are built from their alerts)
            channel=channel,
            payload={"event": "test", "title": f"Message {n}", "items": []},
            dedupe_key=f"e2e-{n}",
            next_attempt_at=start - timedelta(seconds=21 - n),
        )
        for n in range(21)
    )
    with time_machine.travel(start, tick=False):
        tasks.outbox_flush()
    assert len(chat_server.received("dingtalk")) == 20
    waiting = OutboxMessage.objects.get(status=OutboxStatus.PENDING)
    assert waiting.attempts == 0 and waiting.next_attempt_at > start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        tasks.outbox_flush()
    waiting.refresh_from_db()
    assert waiting.status == OutboxStatus.SENT
    assert len(chat_server.received("dingtalk")) == 21


def test_the_weekly_report_reaches_the_group(chat_server, make_channel, project):
    channel = make_channel("wecom", project=project, events=["weekly_report"])
    project.baselined_at = timezone.now() - timedelta(days=30)  # only baselined projects count
    project.save(update_fields=["baselined_at"])
    period = week_period(timezone.now() - timedelta(days=7))
    MilestoneFactory(project=project, due_at=period.start + timedelta(days=1))
    report_publish(period=period, as_of=timezone.now(), project=project, email=False)
    tasks.outbox_flush()
    [request] = chat_server.received("wecom")
    content = request.json["markdown"]["content"]
    assert period.label in content and "100.0%" in content
    assert OutboxMessage.objects.get(channel=channel).status == OutboxStatus.SENT
