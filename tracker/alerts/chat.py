"""Chat payloads (the shape `tracker.core.delivery` documents).

Report and test messages are built when queued. Alert messages are queued as the ids of their
alerts (a scan matches thousands of alerts to channels in one SQL statement) and built here when
sent, in the channel's language; the integrations app then renders either into each platform's
format.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.utils import timezone, translation

from tracker.alerts import links, texts
from tracker.alerts.models import Alert, AlertKind, OutboxMessage
from tracker.core.delivery import NothingToSend

# A message shows at most about 30 items; keep a margin, not thousands of rows of JSON.
MAX_ITEMS = 100


class AlertRow(NamedTuple):
    """What a chat item shows of an alert: one row of `ALERT_ROW_FIELDS`, no model instances
    (a scan may match thousands of alerts to a channel)."""

    id: int
    kind: str
    milestone_id: int
    project_id: int
    due_at: datetime
    title: str
    project: str
    department_id: int
    department: str
    assignee: str | None


ALERT_ROW_FIELDS = (
    "pk",
    "kind",
    "milestone_id",
    "project_id",
    "due_at",
    "milestone__title",
    "project__name",
    "department_id",
    "department__name",
    "milestone__assignee__username",
)


def by_urgency(alerts: Sequence) -> list:
    """Alerts (or AlertRows), most urgent first: escalations, overdue, due soon, resolved."""
    return sorted(alerts, key=lambda a: (AlertKind.urgency(a.kind), a.due_at, a.milestone_id))


def alert_item(alert: AlertRow) -> dict[str, Any]:
    return {
        "kind": alert.kind,
        "kind_label": str(AlertKind(alert.kind).label),
        "milestone_id": alert.milestone_id,
        "title": alert.title,
        "project_id": alert.project_id,
        "project": alert.project,
        "department": alert.department,
        "assignee": alert.assignee or "",
        "due_at": timezone.localtime(alert.due_at).isoformat(),
        "url": links.node_url(alert.milestone_id),
    }


def alerts_payload(alerts: Sequence[AlertRow], *, language: str) -> dict[str, Any]:
    """One chat message listing `alerts`."""
    ordered = by_urgency(alerts)
    projects = {a.project_id: a.project for a in ordered}
    with translation.override(language):
        return {
            "event": "alerts",
            "title": texts.alerts_title(len(ordered), projects.values()),
            "summary": texts.alerts_summary(a.kind for a in ordered),
            "url": (
                links.project_url(next(iter(projects))) if len(projects) == 1 else links.home_url()
            ),
            "items": [alert_item(a) for a in ordered[:MAX_ITEMS]],
        }


def chat_payload(message: OutboxMessage) -> dict[str, Any]:
    """What to send for the chat message `message`: an alert message is built now from the
    alerts it lists (those still there); any other was stored whole."""
    alert_ids = message.payload.get("alert_ids")
    if alert_ids is None:
        return message.payload
    rows = [
        AlertRow(*values)
        for values in Alert.objects.filter(pk__in=alert_ids).values_list(*ALERT_ROW_FIELDS)
    ]
    if not rows:
        raise NothingToSend
    return alerts_payload(rows, language=message.channel.language)


def report_payload(
    *, event: str, kind: str, label: str, report: dict[str, Any], url: str, language: str
) -> dict[str, Any]:
    with translation.override(language):
        return {
            "event": event,
            "title": texts.report_title(
                kind, label, report.get("deviation_rate"), bool(report.get("breached"))
            ),
            "summary": texts.report_summary(report),
            "url": url,
            "items": [],
            "report": report,
        }
