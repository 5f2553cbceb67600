"""Emails: rendered at send time in the recipient's language, sent over SMTP with the outbox's
error contract (4xx and connection trouble are transient, 5xx refusals permanent)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from tracker.alerts import links, texts
from tracker.alerts.chat import by_urgency
from tracker.alerts.models import Alert, AlertKind, OutboxEvent, OutboxMessage
from tracker.core.delivery import NothingToSend, PermanentDeliveryError, TransientDeliveryError
from tracker.reports.models import ReportSnapshot

REPORT_EVENTS = {OutboxEvent.WEEKLY_REPORT, OutboxEvent.MONTHLY_REPORT}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(message: OutboxMessage, *, now: datetime | None = None) -> RenderedEmail:
    """The email `message` stands for, in its recipient's language."""
    now = now or timezone.now()
    with translation.override(message.recipient.language):
        if message.event in (OutboxEvent.ALERTS, OutboxEvent.DIGEST):
            return _render_alerts(message, now=now)
        if message.event in REPORT_EVENTS:
            return _render_report(message)
        return _render("test", _("Milepost test message"), {"recipient": message.recipient})


def _render(template: str, subject: str, context: dict[str, Any]) -> RenderedEmail:
    context = {**context, "subject": subject, "site_url": links.home_url()}
    return RenderedEmail(
        subject=subject,
        text=render_to_string(f"emails/{template}.txt", context),
        html=render_to_string(f"emails/{template}.html", context),
    )


def _render_alerts(message: OutboxMessage, *, now: datetime) -> RenderedEmail:
    alerts = by_urgency(
        Alert.objects.filter(pk__in=message.payload.get("alert_ids", [])).select_related(
            "project", "milestone__department", "milestone__assignee"
        )
    )
    if not alerts:
        raise NothingToSend
    for alert in alerts:
        alert.url = links.node_url(alert.milestone_id)
        alert.kind_label = AlertKind(alert.kind).label
        if alert.kind == AlertKind.DUE_SOON:
            alert.when = _("due in %(time)s") % {"time": timeuntil(alert.due_at, now)}
        elif alert.kind == AlertKind.RESOLVED:
            alert.when = ""
        else:
            alert.when = _("overdue by %(time)s") % {"time": timesince(alert.due_at, now)}
    digest = message.event == OutboxEvent.DIGEST
    subject = texts.alerts_title(len(alerts), (a.project.name for a in alerts), digest=digest)
    return _render(
        "alerts",
        subject,
        {
            "recipient": message.recipient,
            "alerts": alerts,
            "digest": digest,
            "summary": texts.alerts_summary(a.kind for a in alerts),
            "settings_url": links.settings_url(),
        },
    )


def _render_report(message: OutboxMessage) -> RenderedEmail:
    snapshot = ReportSnapshot.objects.filter(pk=message.payload.get("snapshot_id")).first()
    if snapshot is None:
        raise NothingToSend
    report = report_for_display(snapshot.data)
    subject = texts.report_title(
        snapshot.kind, snapshot.label, report["deviation_rate"], report["breached"]
    )
    return _render(
        "report",
        subject,
        {
            "recipient": message.recipient,
            "snapshot": snapshot,
            "report": report,
            "monthly": snapshot.kind == "month",
            "url": links.report_url(
                snapshot.kind,
                snapshot.label,
                project_id=snapshot.project_id,
                department_id=snapshot.department_id,
            ),
        },
    )


def report_for_display(data: dict[str, Any]) -> dict[str, Any]:
    """A stored report (JSON) with percentages, dates and node links ready for a template."""

    def figures(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "rate": texts.percent(row.get("deviation_rate"))}

    def moment(value: Any) -> datetime | None:
        return parse_datetime(value) if isinstance(value, str) else value

    return {
        **figures(data),
        "threshold_percent": texts.percent(data.get("threshold")),
        "start": moment(data.get("start")),
        "end": moment(data.get("end")),
        "as_of": moment(data.get("as_of")),
        "by_department": [figures(row) for row in data.get("by_department", [])],
        "by_project": [figures(row) for row in data.get("by_project", [])],
        "worst_slips": [
            {**row, "planned_due": moment(row.get("planned_due")), "url": links.node_url(row["id"])}
            for row in data.get("worst_slips", [])
        ],
        "weekly_trend": [figures(row) for row in data.get("weekly_trend", [])],
    }


def send_email(message: OutboxMessage) -> str:
    """Send `message` to its recipient over the configured backend; return the server's answer.

    Raises NothingToSend, TransientDeliveryError or PermanentDeliveryError.
    """
    recipient = message.recipient
    if not recipient.email:
        raise PermanentDeliveryError(_("%(user)s has no email address.") % {"user": recipient})
    rendered = render_email(message)
    message.subject = rendered.subject[:300]
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={
            # Stable across retries, so a receiving system can drop a duplicate.
            "Message-ID": f"<{message.pk}@{urlsplit(settings.SITE_URL).hostname or 'milepost'}>",
            "Content-Language": recipient.language,
            "Auto-Submitted": "auto-generated",
        },
    )
    email.attach_alternative(rendered.html, "text/html")
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([email])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        detail = "; ".join(
            f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values()
        )
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(detail) from exc
        raise TransientDeliveryError(detail) from exc
    except smtplib.SMTPAuthenticationError as exc:
        # A wrong password is fixed on our side; keep the message until it is.
        raise TransientDeliveryError(_smtp_detail(exc)) from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(_smtp_detail(exc)) from exc
        raise TransientDeliveryError(_smtp_detail(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out
        raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
    return _("Accepted by the mail server for %(address)s") % {"address": recipient.email}


def _smtp_detail(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else exc.smtp_error
    )
    return f"{exc.smtp_code} {text}"
