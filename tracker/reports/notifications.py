"""How a report reads in an email and a chat message (the same wording in both, in every
language). The email renderer is registered with the outbox (this module is imported by
`NotificationsConfig.ready`, like an admin module); chat messages are built when queued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tracker.core.delivery import NothingToSend
from tracker.notifications import links
from tracker.notifications.emails import RenderedEmail, email_render, email_renderer
from tracker.notifications.models import (
    ChannelEvent,
    OutboxEvent,
    OutboxMessage,
    PreferenceChannel,
)
from tracker.notifications.preferences import kinds_switched_off, unsubscribe_headers
from tracker.notifications.texts import label_list, percent
from tracker.reports.models import PeriodKind, ReportSnapshot


def report_title(kind: str, label: str, rate: float | None, breached: bool) -> str:
    values = {"label": label, "rate": percent(rate)}
    if kind == PeriodKind.WEEK:
        title = _("Weekly report %(label)s: %(rate)s of nodes deviated") % values
    else:
        title = _("Monthly report %(label)s: %(rate)s of nodes deviated") % values
    if breached:
        title = _("%(title)s (above threshold)") % {"title": title}
    return title


def report_summary(report: dict) -> str:
    """'40 due: 34 on time, 4 late, 2 still open (threshold 10.0%)'."""
    return _(
        "%(due)s due: %(on_time)s on time, %(late)s late, %(open)s still open "
        "(threshold %(threshold)s)"
    ) % {
        "due": report.get("due_count", 0),
        "on_time": report.get("on_time_count", 0),
        "late": report.get("late_count", 0),
        "open": report.get("open_overdue_count", 0),
        "threshold": percent(report.get("threshold")),
    }


def report_payload(
    *, event: str, kind: str, label: str, report: dict[str, Any], url: str, language: str
) -> dict[str, Any]:
    """The chat message of a report, stored whole when queued."""
    with translation.override(language):
        return {
            "event": event,
            "title": report_title(
                kind, label, report.get("deviation_rate"), bool(report.get("breached"))
            ),
            "summary": report_summary(report),
            "url": url,
            "items": [],
            "report": report,
        }


def snapshot_url(snapshot: ReportSnapshot) -> str:
    return links.report_url(
        PeriodKind(snapshot.kind).adjective,
        snapshot.label,
        project_id=snapshot.project_id,
        department_id=snapshot.department_id,
    )


@email_renderer(OutboxEvent.WEEKLY_REPORT, OutboxEvent.MONTHLY_REPORT)
def report_email(message: OutboxMessage, now: datetime) -> RenderedEmail:
    snapshot = ReportSnapshot.objects.filter(pk=message.payload.get("snapshot_id")).first()
    off = kinds_switched_off(user=message.recipient, channel=PreferenceChannel.EMAIL)
    if snapshot is None or message.event in off:
        raise NothingToSend
    report = report_for_display(snapshot.data)
    subject = report_title(
        snapshot.kind, snapshot.label, report["deviation_rate"], report["breached"]
    )
    return email_render(
        "report",
        subject,
        {
            "recipient": message.recipient,
            "snapshot": snapshot,
            "report": report,
            "monthly": snapshot.kind == PeriodKind.MONTH,
            "url": snapshot_url(snapshot),
            "settings_url": links.settings_url(),
            "kinds_text": label_list([ChannelEvent(message.event).label]),
        },
        headers=unsubscribe_headers(user=message.recipient, kinds=[message.event]),
    )


def report_for_display(data: dict[str, Any]) -> dict[str, Any]:
    """A stored report (JSON) with percentages, dates and node links ready for a template."""

    def figures(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "rate": percent(row.get("deviation_rate"))}

    def moment(value: Any) -> datetime | None:
        return parse_datetime(value) if isinstance(value, str) else value

    return {
        **figures(data),
        "threshold_percent": percent(data.get("threshold")),
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
