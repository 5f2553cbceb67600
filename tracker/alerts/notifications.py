"""How alerts read in an email and a chat message: the renderers `alerts` registers with the
outbox (imported by `NotificationsConfig.ready`, like an admin module).

Alert messages are queued as the ids of their alerts (a scan matches thousands of alerts to
people and channels in one SQL statement) and built here when sent: emails in the recipient's
language, chat messages in the channel's. The integrations app then renders a chat payload into
each platform's format.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.utils import timezone, translation
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from tracker.alerts import texts
from tracker.alerts.models import Alert, AlertKind
from tracker.core.delivery import NothingToSend
from tracker.notifications import links
from tracker.notifications.chat import chat_renderer
from tracker.notifications.emails import RenderedEmail, email_render, email_renderer
from tracker.notifications.models import ChannelKind, OutboxEvent, OutboxMessage

# A chat message shows at most about 30 items; keep a margin, not thousands of rows of JSON.
# A signed webhook is read by a program, which gets every item (docs/schemas/webhook-v1.json).
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


# Email ----------------------------------------------------------------------------------------


@email_renderer(OutboxEvent.ALERTS, OutboxEvent.DIGEST)
def alerts_email(message: OutboxMessage, now: datetime) -> RenderedEmail:
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
        elif alert.kind in (AlertKind.FORECAST_SLIP, AlertKind.D_DAY_AT_RISK):
            alert.when = texts.forecast_when(
                alert.kind, forecast_at=alert.milestone.forecast_at, due_at=alert.due_at
            )
        else:
            alert.when = _("overdue by %(time)s") % {"time": timesince(alert.due_at, now)}
    digest = message.event == OutboxEvent.DIGEST
    subject = texts.alerts_title(len(alerts), (a.project.name for a in alerts), digest=digest)
    return email_render(
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


# Chat -----------------------------------------------------------------------------------------


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


def alerts_payload(
    alerts: Sequence[AlertRow], *, language: str, limit: int | None = MAX_ITEMS
) -> dict[str, Any]:
    """One chat message listing `alerts` (the `limit` most urgent; None: all of them), and
    how many there are in all."""
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
            "items": [alert_item(a) for a in ordered[:limit]],
            "item_count": len(ordered),
        }


@chat_renderer(OutboxEvent.ALERTS)
def alerts_chat(message: OutboxMessage) -> dict[str, Any]:
    """The chat message listing the alerts `message` holds (those still there)."""
    rows = [
        AlertRow(*values)
        for values in Alert.objects.filter(pk__in=message.payload.get("alert_ids", [])).values_list(
            *ALERT_ROW_FIELDS
        )
    ]
    if not rows:
        raise NothingToSend
    complete = message.channel.kind == ChannelKind.WEBHOOK
    return alerts_payload(
        rows, language=message.channel.language, limit=None if complete else MAX_ITEMS
    )
