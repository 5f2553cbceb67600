"""What people receive: one email per scan, every alert listed most urgent first, in their
language, with absolute links. Delivered to a real SMTP server on loopback."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from tests.alerts.support import establish
from tests.factories import ProjectFactory, prefer_digest
from tracker.alerts.digest import alerts_digest_send
from tracker.alerts.services import alerts_scan
from tracker.milestones.services import milestone_update
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.notifications.outbox import outbox_flush
from tracker.projects.models import ProjectStatus

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)


@pytest.fixture
def two_projects(team):
    other = establish(
        ProjectFactory(owner=team.owner, name="618 Launch", status=ProjectStatus.ACTIVE)
    )
    nodes = {
        "soon": team.node(NOW + 3 * H, title="Banner copy"),
        "late": team.node(NOW - 2 * H, title="Price approval"),
        "escalated": team.node(NOW - 60 * H, title="Stock check", project=other),
    }
    return team, other, nodes


def scan_and_send(settings, now=NOW) -> None:
    settings.SITE_URL = "https://milepost.example.com"
    with time_machine.travel(now, tick=False):
        alerts_scan(now=timezone.now())
        outbox_flush(budget_seconds=30)


def test_one_email_per_person_listing_everything_most_urgent_first(smtp, settings, two_projects):
    team, _other, nodes = two_projects
    scan_and_send(settings)

    assert sorted(r.recipients[0] for r in smtp.handler.received) == [
        "lena@example.com",
        "li@example.com",
    ]
    (email,) = smtp.handler.to("lena@example.com")
    assert email.subject == "3 new alerts in 618 Launch, Double 11"  # most urgent first
    assert email.message.get_content_type() == "multipart/alternative"
    text, html = email.body("plain"), email.body("html")
    order = [text.index(title) for title in ("Stock check", "Price approval", "Banner copy")]
    assert order == sorted(order)
    for node in nodes.values():
        link = f"https://milepost.example.com/nodes/{node.pk}/"
        assert link in text
        assert f'href="{link}"' in html
    assert "[Overdue] Price approval" in text
    assert text.startswith("New Milepost alerts: 2 overdue, 1 due soon")
    assert (
        email.message["Message-ID"]
        == f"<{OutboxMessage.objects.get(recipient=team.assignee).pk}@milepost.example.com>"
    )

    # The lead only hears about the escalation (the ladder's second rung) in the other project.
    (lead_email,) = smtp.handler.to("li@example.com")
    assert lead_email.subject == "1 new alert in 618 Launch"
    assert "[Escalation] Stock check" in lead_email.body()
    assert "Price approval" not in lead_email.body()


def test_emails_follow_the_recipients_language(smtp, settings, team):
    team.assignee.language = "zh-hans"
    team.assignee.save()
    team.node(NOW - 50 * H, title="Price approval")
    scan_and_send(settings)

    (chinese,) = smtp.handler.to("lena@example.com")
    (english,) = smtp.handler.to("li@example.com")
    assert chinese.message["Content-Language"] == "zh-hans"
    assert english.message["Content-Language"] == "en"
    # "overdue by 2 days, 2 hours": Django's own words are translated already.
    assert "2\xa0日，2\xa0小时" in chinese.body()
    assert "2\xa0days, 2\xa0hours" in english.body()
    assert '<html lang="zh-hans">' in chinese.body("html")


def test_resolution_email(smtp, settings, team):
    node = team.node(NOW - H, title="Price approval")
    scan_and_send(settings)
    smtp.reset()
    with time_machine.travel(NOW + H, tick=False):
        milestone_update(milestone_id=node.pk, actor=team.assignee, data={"status": "done"})
    scan_and_send(settings, now=NOW + H)
    # Only the assignee heard of the overdue node: only she hears it is resolved.
    assert sorted(r.recipients[0] for r in smtp.handler.received) == ["lena@example.com"]
    (email,) = smtp.handler.to("lena@example.com")
    assert email.subject == "1 new alert in Double 11"
    assert "[Resolved] Price approval" in email.body()


def test_digest_lists_a_days_alerts_in_one_email(smtp, settings, team):
    prefer_digest(team.assignee)
    team.node(NOW + 2 * H, title="Banner copy")
    scan_and_send(settings)
    team.node(NOW - H, title="Price approval")
    scan_and_send(settings, now=NOW + 5 * H)
    assert not smtp.handler.to("lena@example.com")

    with time_machine.travel(NOW + 14 * H, tick=False):
        assert alerts_digest_send(now=timezone.now()) == 1
        outbox_flush(budget_seconds=30)
    (digest,) = smtp.handler.to("lena@example.com")
    assert digest.subject == "Daily digest: 3 alerts in Double 11"
    body = digest.body()
    assert "Price approval" in body and "Banner copy" in body
    # the reminder, then the node slipped: one entry with both badges
    assert "[Overdue][Due soon] Banner copy" in body and body.count("Banner copy") == 1
    # the overdue notice is the assignee's alone: lena hears only through her digest
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 1


def test_a_message_whose_nodes_are_gone_is_skipped(smtp, settings, team):
    node = team.node(NOW - H)
    with time_machine.travel(NOW, tick=False):
        alerts_scan(now=timezone.now())
    node.delete()
    outbox_flush(budget_seconds=30)
    assert not smtp.handler.received
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SKIPPED}
