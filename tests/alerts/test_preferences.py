"""Who gets what: per-person preferences by kind × channel decide the alert and report emails,
every such email carries a one-click List-Unsubscribe (RFC 8058) that works without signing
in, a node appears once per email, and the largest email stays under 100 KB. Delivered to a
real SMTP server on loopback."""

from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.factories import MilestoneFactory, prefer_digest
from tracker.alerts.digest import alerts_digest_send
from tracker.alerts.models import Alert
from tracker.alerts.notifications import EMAIL_MAX_NODES
from tracker.alerts.services import alerts_scan
from tracker.notifications.models import (
    Delivery,
    NotificationPreference,
    OutboxMessage,
    OutboxStatus,
    PreferenceChannel,
)
from tracker.notifications.outbox import outbox_flush
from tracker.notifications.preferences import (
    preference_matrix,
    preferences_save,
    unsubscribe_token,
)
from tracker.reports.periods import week_period
from tracker.reports.services import report_publish

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)
EMAIL = PreferenceChannel.EMAIL


def scan_and_send(settings, now=NOW) -> None:
    settings.SITE_URL = "https://milepost.example.com"
    with time_machine.travel(now, tick=False):
        alerts_scan(now=timezone.now())
        outbox_flush(budget_seconds=60)


def email_delivery(user, kind) -> str:
    return preference_matrix(user=user)[(kind, EMAIL)]


# Fan-out ----------------------------------------------------------------------------------------


def test_a_kind_switched_off_by_email_is_not_sent_the_others_are(smtp, settings, team):
    preferences_save(user=team.assignee, choices={("overdue", EMAIL): Delivery.OFF})
    team.node(NOW - H, title="Price approval")  # overdue: lena said no
    team.node(NOW + 2 * H, title="Banner copy")  # due soon: still wanted
    scan_and_send(settings)

    (lena,) = smtp.handler.to("lena@example.com")
    assert "Banner copy" in lena.body() and "Price approval" not in lena.body()
    assert not smtp.handler.to("li@example.com")  # the lead's rung is a day later


def test_digest_kinds_are_held_and_the_rest_go_now(smtp, settings, team):
    preferences_save(user=team.assignee, choices={("due_soon", EMAIL): Delivery.DIGEST})
    team.node(NOW - H, title="Price approval")
    team.node(NOW + 2 * H, title="Banner copy")
    scan_and_send(settings)

    (now_email,) = smtp.handler.to("lena@example.com")
    assert "Price approval" in now_email.body() and "Banner copy" not in now_email.body()
    held = OutboxMessage.objects.filter(recipient=team.assignee, status=OutboxStatus.HELD)
    assert held.count() == 1
    with time_machine.travel(NOW + 14 * H, tick=False):
        assert alerts_digest_send(now=timezone.now()) == 1
        outbox_flush(budget_seconds=30)
    digest = smtp.handler.to("lena@example.com")[-1]
    assert digest.subject.startswith("Daily digest") and "Banner copy" in digest.body()


def test_a_kind_switched_off_after_queueing_is_left_out_when_sent(smtp, settings, team):
    """Emails are written when sent: a choice made while one waits (for the digest, or a
    retry) holds."""
    prefer_digest(team.assignee)
    team.node(NOW - H, title="Price approval")
    team.node(NOW + 2 * H, title="Banner copy")
    scan_and_send(settings)
    preferences_save(user=team.assignee, choices={("overdue", EMAIL): Delivery.OFF})
    with time_machine.travel(NOW + 14 * H, tick=False):
        alerts_digest_send(now=timezone.now())
        outbox_flush(budget_seconds=30)
    (digest,) = smtp.handler.to("lena@example.com")
    assert "Banner copy" in digest.body() and "Price approval" not in digest.body()
    assert digest.subject == "Daily digest: 1 alert in Double 11"

    smtp.reset()
    team.node(NOW + 15 * H, title="Copy review")  # due soon at the next scan: held
    scan_and_send(settings, now=NOW + 14 * H)
    preferences_save(user=team.assignee, choices={("due_soon", EMAIL): Delivery.OFF})
    with time_machine.travel(NOW + 38 * H, tick=False):
        alerts_digest_send(now=timezone.now())
        outbox_flush(budget_seconds=30)
    assert not smtp.handler.to("lena@example.com")  # nothing left to say: skipped
    assert OutboxMessage.objects.filter(
        recipient=team.assignee, event="digest", status=OutboxStatus.SKIPPED
    ).exists()


def test_a_muted_project_silences_every_kind_until_unmuted(smtp, settings, team):
    team.assignee.muted_projects.add(team.project)
    team.node(NOW - 60 * H)  # the lead's rung too
    team.node(NOW + 2 * H)
    scan_and_send(settings)
    assert not smtp.handler.to("lena@example.com")
    assert smtp.handler.to("li@example.com")
    # Held, not dropped: the first digest after unmuting sends them.
    team.assignee.muted_projects.remove(team.project)
    with time_machine.travel(NOW + 14 * H, tick=False):
        assert alerts_digest_send(now=timezone.now()) == 1
        outbox_flush(budget_seconds=30)
    (digest,) = smtp.handler.to("lena@example.com")
    assert digest.subject == "Daily digest: 2 alerts in Double 11"


def test_a_report_switched_off_is_not_sent(smtp, settings, team):
    preferences_save(user=team.owner, choices={("weekly_report", EMAIL): Delivery.OFF})
    period = week_period(NOW - timedelta(days=7))
    of_record(team.project)  # reports count baselined projects only
    team.node(period.start + timedelta(days=1))
    with time_machine.travel(NOW, tick=False):
        report_publish(period=period, as_of=timezone.now(), project=team.project)
        outbox_flush(budget_seconds=30)
    assert not smtp.handler.to("olga@example.com")
    assert smtp.handler.to("li@example.com")  # the department's lead still gets it


def of_record(project) -> None:
    """Baseline `project` long ago, as `BaselinedProjectFactory` does."""
    type(project).objects.filter(pk=project.pk).update(
        status="active", baselined_at=NOW - timedelta(days=400), baseline_number=1
    )


# List-Unsubscribe -------------------------------------------------------------------------------


def one_click(received) -> tuple[str, str]:
    """The path of the List-Unsubscribe link of an email, and its List-Unsubscribe-Post."""
    header = str(received.message["List-Unsubscribe"])
    assert header.startswith("<https://milepost.example.com/unsubscribe/") and header.endswith(">")
    # On the wire as it is, on one line: mail programs do not decode RFC 2047 words there.
    assert f"\r\nList-Unsubscribe: {header}\r\n".encode() in received.raw
    return urlsplit(header[1:-1]).path, str(received.message["List-Unsubscribe-Post"])


def test_alert_emails_unsubscribe_in_one_click_without_signing_in(smtp, settings, team):
    team.node(NOW - 60 * H, title="Stock check")  # overdue long enough to escalate too
    scan_and_send(settings)
    (lead,) = smtp.handler.to("li@example.com")
    path, post = one_click(lead)
    assert post == "List-Unsubscribe=One-Click"
    assert path in lead.body() and path in lead.body("html")  # and a visible link

    anonymous = Client()
    page = anonymous.get(path)  # a GET (a link checker, a preview) only asks
    assert page.status_code == 200 and b"Stop sending" in page.content
    assert email_delivery(team.lead, "escalation") == Delivery.IMMEDIATE

    # What a mail client sends for RFC 8058: a POST with this body, no cookies, no CSRF token.
    answer = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    assert email_delivery(team.lead, "escalation") == Delivery.OFF  # the lead's rung's email
    assert email_delivery(team.lead, "overdue") == Delivery.IMMEDIATE  # not in that email
    assert preference_matrix(user=team.lead)[("overdue", PreferenceChannel.IN_APP)] == "immediate"

    # The next scan's overdue node no longer reaches the lead by email.
    smtp.reset()
    team.node(NOW + 4 * H - timedelta(minutes=1), title="Copy review")
    scan_and_send(settings, now=NOW + 4 * H)
    assert not smtp.handler.to("li@example.com")
    assert smtp.handler.to("lena@example.com")


def test_digest_and_report_emails_carry_the_header_too(smtp, settings, team):
    prefer_digest(team.assignee)
    team.node(NOW - H, title="Price approval")
    scan_and_send(settings)
    with time_machine.travel(NOW + 14 * H, tick=False):
        alerts_digest_send(now=timezone.now())
        outbox_flush(budget_seconds=30)
    (digest,) = smtp.handler.to("lena@example.com")
    path, post = one_click(digest)
    assert post == "List-Unsubscribe=One-Click"
    Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert email_delivery(team.assignee, "overdue") == Delivery.OFF

    smtp.reset()
    period = week_period(NOW - timedelta(days=7))
    of_record(team.project)  # reports count baselined projects only
    team.node(period.start + timedelta(days=1))
    with time_machine.travel(NOW, tick=False):
        report_publish(period=period, as_of=timezone.now(), project=team.project)
        outbox_flush(budget_seconds=30)
    (report,) = smtp.handler.to("olga@example.com")
    path, post = one_click(report)
    assert post == "List-Unsubscribe=One-Click"
    Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert email_delivery(team.owner, "weekly_report") == Delivery.OFF
    assert email_delivery(team.owner, "monthly_report") == Delivery.IMMEDIATE
    assert email_delivery(team.owner, "overdue") == Delivery.IMMEDIATE


def signed_elsewhere(team, settings) -> str:
    settings.SECRET_KEY = "another-secret-key-" * 3
    token = unsubscribe_token(user=team.lead, kinds=["overdue"])
    settings.SECRET_KEY = "the-real-secret-key-" * 3
    return token


def for_inactive(team, settings) -> str:
    team.lead.is_active = False
    team.lead.save()
    return unsubscribe_token(user=team.lead, kinds=["overdue"])


@pytest.mark.parametrize(
    "make",
    [
        lambda team, settings: "nonsense",
        lambda team, settings: unsubscribe_token(user=team.lead, kinds=["overdue"])[:-3] + "abc",
        signed_elsewhere,
        for_inactive,
        lambda team, settings: unsubscribe_token(user=team.lead, kinds=["no_such_kind"]),
    ],
    ids=["garbage", "tampered", "other-key", "inactive-person", "unknown-kind"],
)
def test_a_broken_or_forged_link_is_refused_and_changes_nothing(make, db, team, settings):
    token = make(team, settings)
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/unsubscribe/{token}/")
        assert response.status_code == 400
        assert b"not valid" in response.content
    assert not NotificationPreference.objects.exists()


# One node once, and a size cap --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Price approval, stock check and sign-off", EMAIL_MAX_NODES),
        # Long Chinese titles travel quoted-printable, three bytes a byte: fewer fit.
        (("价格审批，库存核对、签字；「主视觉」定稿" * 10)[:190], None),
    ],
    ids=["short-titles", "long-chinese-titles"],
)
def test_the_largest_email_stays_under_100_kb_with_800_alerts_for_one_lead(
    title, shown, smtp, settings, team
):
    nodes = [
        MilestoneFactory(
            project=team.project,
            department=team.department,
            assignee=None,  # so the lead hears of each as assignee and as lead
            due_at=NOW - (n + 1) * timedelta(minutes=7),
            title=f"{title} #{n}",
        )
        for n in range(800)
    ]
    scan_and_send(settings)
    (lead,) = smtp.handler.to("li@example.com")
    sizes = sorted(len(r.raw) for r in smtp.handler.received)
    assert sizes[-1] <= 100 * 1024, sizes
    assert len(lead.raw) == sizes[-1]
    assert lead.subject.startswith(f"{Alert.objects.count()} new alerts")  # all counted
    text, html = lead.body(), lead.body("html")
    listed = text.count("https://milepost.example.com/nodes/")
    assert listed == (shown or listed) and 10 <= listed <= EMAIL_MAX_NODES
    # the most urgent first: the nodes overdue longest
    assert f"/nodes/{nodes[-1].pk}/" in text and f"/nodes/{nodes[0].pk}/" not in text
    assert f"…and {len(nodes) - listed} more nodes: see them all in My work" in text
    assert 'href="https://milepost.example.com/"' in html


def test_the_confirmation_speaks_the_persons_language(db, team):
    team.lead.language = "zh-hans"
    team.lead.save()
    token = unsubscribe_token(user=team.lead, kinds=["overdue", "escalation"])
    page = Client().get(f"/unsubscribe/{token}/").content.decode()
    assert "退订" in page and "升级、已逾期" in page  # escalation, overdue
    done = Client().post(f"/unsubscribe/{token}/").content.decode()
    assert "你将不再收到" in done
