"""How alerts read in an email and a chat message: the renderers `alerts` registers with the
outbox (imported by `NotificationsConfig.ready`, like an admin module).

Alert messages are queued as the ids of their alerts (a scan matches thousands of alerts to
people and channels in one SQL statement) and built here when sent: emails in the recipient's
language, chat messages in the channel's. The integrations app then renders a chat payload into
each platform's format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from tracker.accounts.models import display_name
from tracker.alerts import texts
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.snoozing import CHOICES, snooze_token
from tracker.core.delivery import NothingToSend
from tracker.milestones.episodes import EpisodeStory, episode_stories
from tracker.notifications import links
from tracker.notifications.chat import chat_renderer
from tracker.notifications.emails import (
    RenderedEmail,
    email_fragment,
    email_preloader,
    email_renderer,
    fragment_fill,
    placeholder,
    wire_size,
)
from tracker.notifications.models import (
    ChannelKind,
    OutboxEvent,
    OutboxMessage,
    PreferenceChannel,
)
from tracker.notifications.preferences import kinds_switched_off_by_user, unsubscribe_headers
from tracker.notifications.texts import label_list

# An email lists at most this many nodes, the most urgent, and its bodies stay under about
# EMAIL_MAX_BYTES on the wire (the headers add about 2 KB); a link leads to the rest.
EMAIL_MAX_NODES = 50
EMAIL_MAX_BYTES = 95_000
# A chat message shows at most about 30 items; keep a margin, not thousands of rows of JSON.
# A signed webhook is read by a program, which gets every item (docs/schemas/webhook-v1.json).
MAX_ITEMS = 100


def _assignee_name(row: Any) -> str:
    """A row's assignee as `User.__str__` names them (full name, else username); "" if none.
    (Both row types carry the three columns; a NamedTuple cannot share a base class.)"""
    if row.assignee is None:
        return ""
    return display_name(row.assignee, row.assignee_first_name, row.assignee_last_name)


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
    assignee_first_name: str | None
    assignee_last_name: str | None

    assignee_name = property(_assignee_name)


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
    "milestone__assignee__first_name",
    "milestone__assignee__last_name",
)


def by_urgency(alerts: Sequence) -> list:
    """Alerts (or AlertRows), most urgent first: escalations, overdue, due soon, resolved."""
    return sorted(alerts, key=lambda a: (AlertKind.urgency(a.kind), a.due_at, a.milestone_id))


# Email ----------------------------------------------------------------------------------------


class EmailAlert(NamedTuple):
    """What an email shows of an alert and its node: one row of `EMAIL_ALERT_FIELDS`, no model
    instances (a batch of emails may list thousands of alerts)."""

    pk: int
    kind: str
    milestone_id: int
    project_id: int
    due_at: datetime
    episode_id: int | None
    resolved_at: datetime | None
    title: str
    milestone_due_at: datetime
    forecast_at: datetime | None
    project: str
    department: str
    assignee: str | None  # the username
    assignee_first_name: str | None
    assignee_last_name: str | None

    assignee_name = property(_assignee_name)


EMAIL_ALERT_FIELDS = (
    "pk",
    "kind",
    "milestone_id",
    "project_id",
    "due_at",
    "episode_id",
    "resolved_at",
    "milestone__title",
    "milestone__due_at",
    "milestone__forecast_at",
    "project__name",
    "milestone__department__name",
    "milestone__assignee__username",
    "milestone__assignee__first_name",
    "milestone__assignee__last_name",
)


@dataclass
class EmailEntry:
    """One node of an alert email, every value already a string or a flag, with a badge per
    alert about it (its escalation and its overdue notice, fired together, make one entry with
    both)."""

    milestone_id: int
    title: str
    project: str
    department: str
    assignee: str
    due_at: datetime
    due_text: str  # local time, as the templates' `date:"Y-m-d H:i"` wrote it
    url: str
    badges: list[tuple[str, str]]  # (kind, label), most urgent first
    when: str
    resolved_since: bool
    story: str = ""  # a lateness episode's re-plans and promise
    snooze_links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)

    @property
    def kind(self) -> str:
        return self.badges[0][0]

    def shape(self, *, digest: bool) -> tuple:
        """What the entry partial branches on: its badges' kinds, which texts are empty, the
        digest's "resolved since", how many snooze links. Entries of one shape share one
        compiled fragment (`email_fragment`)."""
        return (
            tuple(kind for kind, _label in self.badges),
            *(bool(getattr(self, name)) for name in ENTRY_TEXTS),
            digest and self.resolved_since,
            len(self.snooze_links),
        )

    def values(self) -> dict[str, str]:
        """The entry's texts by placeholder name."""
        values = {name: getattr(self, name) for name in ENTRY_TEXTS}
        for index, (_kind, label) in enumerate(self.badges):
            values[f"badge{index}"] = label
        for index, (label, url) in enumerate(self.snooze_links):
            values[f"snooze{index}"], values[f"snooze_url{index}"] = label, url
        return values

    def shaped(self) -> EmailEntry:
        """The entry with a placeholder for each of its texts that is not empty."""
        holes = {name: placeholder(name) for name in ENTRY_TEXTS if getattr(self, name)}
        return replace(
            self,
            **holes,
            badges=[(kind, placeholder(f"badge{i}")) for i, (kind, _) in enumerate(self.badges)],
            snooze_links=[
                (placeholder(f"snooze{i}"), placeholder(f"snooze_url{i}"))
                for i in range(len(self.snooze_links))
            ],
        )


ENTRY_TEXTS = ("title", "project", "department", "assignee", "due_text", "url", "when", "story")


def _snooze_links(recipient, alert: EmailAlert) -> list[tuple[str, str]]:
    labels = {"1h": _("Snooze 1 hour"), "tomorrow": _("Snooze until tomorrow 09:00")}
    return [
        (
            labels[choice],
            links.absolute(
                reverse(
                    "web:alert_snooze_link",
                    args=[snooze_token(user=recipient, alert_id=alert.pk, choice=choice)],
                )
            ),
        )
        for choice in CHOICES
    ]


def email_entries(
    alerts: Sequence[EmailAlert],
    now: datetime,
    recipient=None,
    stories: Mapping[int, EpisodeStory] | None = None,
) -> list[EmailEntry]:
    """`alerts` as one entry per node, most urgent node first. An entry of an open lateness
    episode tells how long it is late, its re-plans and promise, and (for a `recipient`)
    offers signed one-click snooze links. `stories`: the episodes' stories when a batch has
    read them already (`alerts_email_preload`)."""
    by_node: dict[int, list[EmailAlert]] = {}
    for alert in by_urgency(alerts):
        by_node.setdefault(alert.milestone_id, []).append(alert)
    if stories is None:
        stories = episode_stories({a.episode_id for a in alerts if a.episode_id})
    entries = []
    for node_alerts in by_node.values():
        first = node_alerts[0]  # the most urgent
        episodic = next((a for a in node_alerts if a.episode_id in stories), None)
        story = stories.get(episodic.episode_id) if episodic else None
        if story is not None and first.kind != AlertKind.RESOLVED:
            when = _("late for %(time)s") % {"time": timesince(story.started_at, now)}
        elif first.kind == AlertKind.DUE_SOON:
            when = _("due in %(time)s") % {"time": timeuntil(first.due_at, now)}
        elif first.kind == AlertKind.RESOLVED:
            when = ""
        elif first.kind in (AlertKind.FORECAST_SLIP, AlertKind.D_DAY_AT_RISK):
            when = texts.forecast_when(
                first.kind, forecast_at=first.forecast_at, due_at=first.due_at
            )
        else:
            when = _("overdue by %(time)s") % {"time": timesince(first.due_at, now)}
        entries.append(
            EmailEntry(
                milestone_id=first.milestone_id,
                title=first.title,
                project=first.project,
                department=first.department,
                assignee=first.assignee_name,
                due_at=first.due_at,
                due_text=timezone.localtime(first.due_at).strftime("%Y-%m-%d %H:%M"),
                url=links.node_url(first.milestone_id),
                badges=[(a.kind, str(AlertKind(a.kind).label)) for a in node_alerts],
                when=when,
                resolved_since=any(
                    a.resolved_at and a.kind != AlertKind.RESOLVED for a in node_alerts
                ),
                story=texts.episode_story(
                    replans=story.replans,
                    due_at=first.milestone_due_at,
                    promised_at=story.promised_at,
                    broken=story.broken,
                )
                if story
                else "",
                snooze_links=_snooze_links(recipient, episodic)
                if story and recipient is not None and first.kind != AlertKind.RESOLVED
                else [],
            )
        )
    return sorted(entries, key=lambda e: (AlertKind.urgency(e.kind), e.due_at, e.milestone_id))


@email_preloader(OutboxEvent.ALERTS, OutboxEvent.DIGEST)
def alerts_email_preload(messages: Sequence[OutboxMessage]) -> None:
    """The alerts each message lists (`email_alerts`, plain rows), without the kinds its
    recipient switched off since it was queued, and their lateness episodes' stories
    (`episode_stories`): the same few queries for a whole batch of emails as for one."""
    alerts = {
        row[0]: EmailAlert(*row)
        for row in Alert.objects.filter(
            pk__in={pk for message in messages for pk in message.payload.get("alert_ids", [])}
        ).values_list(*EMAIL_ALERT_FIELDS)
    }
    off = kinds_switched_off_by_user(
        user_ids={message.recipient_id for message in messages}, channel=PreferenceChannel.EMAIL
    )
    for message in messages:
        switched_off = off.get(message.recipient_id, set())
        message.email_alerts = [
            alerts[pk]
            for pk in dict.fromkeys(message.payload.get("alert_ids", []))
            if pk in alerts and alerts[pk].kind not in switched_off
        ]
    stories = episode_stories({a.episode_id for a in alerts.values() if a.episode_id})
    for message in messages:
        message.episode_stories = stories


def _entry_rows(entries: Sequence[EmailEntry], *, digest: bool) -> list[tuple[str, str]]:
    """Each entry's HTML and text: the entry partials, compiled once per shape, filled."""
    rows = []
    for entry in entries:
        shape = entry.shape(digest=digest)
        values = entry.values()
        rows.append(
            tuple(
                fragment_fill(
                    email_fragment(
                        f"emails/alerts.{ext}#entry",
                        shape,
                        lambda entry=entry: {"entry": entry.shaped(), "digest": digest},
                    ),
                    values,
                    html=ext == "html",
                )
                for ext in ("html", "txt")
            )
        )
    return rows


def _alerts_page(
    rows: Sequence[tuple[str, str]], *, hidden: int, context: dict[str, Any], headers: dict
) -> RenderedEmail:
    """The whole email around its entries' rows: the page templates, compiled once per shape
    (digest or not, how many nodes are left out, an unsubscribe link or not), filled."""
    values = {
        **context,
        "unsubscribe_url": headers.get("List-Unsubscribe", "").strip("<>"),
        "rows": "",
    }
    texts_ = [name for name, value in values.items() if isinstance(value, str)]
    shape = (values["digest"], hidden, bool(values["unsubscribe_url"]))
    bodies = []
    for index, ext in enumerate(("html", "txt")):
        values["rows"] = "".join(row[index] for row in rows)
        parts = email_fragment(
            f"emails/alerts.{ext}",
            shape,
            lambda: {
                **values,
                **{name: placeholder(name) for name in texts_},
                "hidden": hidden,
            },
        )
        bodies.append(fragment_fill(parts, values, html=ext == "html", raw={"rows"}))
    return RenderedEmail(
        subject=context["subject"], html=bodies[0], text=bodies[1], headers=headers
    )


@email_renderer(OutboxEvent.ALERTS, OutboxEvent.DIGEST)
def alerts_email(message: OutboxMessage, now: datetime) -> RenderedEmail:
    """One entry per node; at most EMAIL_MAX_NODES of them, the most urgent (fewer when long
    titles would pass EMAIL_MAX_BYTES), then a link to My work for the rest: an email stays
    under 100 KB however many alerts a scan raised.

    The bodies are what `emails/alerts.html` and `.txt` render (`email_render`'s context), built
    from compiled fragments: rendering each node through the template engine was most of an
    email's CPU time."""
    if not hasattr(message, "email_alerts"):
        alerts_email_preload([message])
    alerts = by_urgency(message.email_alerts)
    if not alerts:
        raise NothingToSend
    entries = email_entries(
        alerts, now, recipient=message.recipient, stories=message.episode_stories
    )
    digest = message.event == OutboxEvent.DIGEST
    kinds = sorted({a.kind for a in alerts}, key=AlertKind.urgency)
    context = {
        "subject": texts.alerts_title(len(alerts), (a.project for a in alerts), digest=digest),
        "site_url": links.home_url(),
        "more_url": links.home_url(),
        "digest": digest,
        "summary": texts.alerts_summary(a.kind for a in alerts),
        "settings_url": links.settings_url(),
        "kinds_text": label_list(AlertKind(kind).label for kind in kinds),
    }
    headers = unsubscribe_headers(user=message.recipient, kinds=kinds)
    rows = _entry_rows(entries[:EMAIL_MAX_NODES], digest=digest)
    count = EMAIL_MAX_NODES
    while True:
        shown = rows[:count]
        rendered = _alerts_page(
            shown, hidden=len(entries) - len(shown), context=context, headers=headers
        )
        size = wire_size(rendered)
        if size <= EMAIL_MAX_BYTES or len(shown) <= 1:
            return rendered
        count = max(1, min(len(shown) - 1, len(shown) * EMAIL_MAX_BYTES // size))


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
        "assignee": alert.assignee or "",  # the username, for programs (webhook-v1.json)
        "assignee_name": alert.assignee_name,  # what people read
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
