"""The outbox and the chat channels it sends to.

Exactly-once queueing is a property of the data: one outbox row per dedupe key (a scan and a
person, a scan and a channel, a report and a person…). Sending is at least once: see
`tracker.notifications.outbox`. The tables keep the names they had when they lived in `alerts`
and `integrations` (migration 0001 moved them without touching the data).
"""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.accounts.models import Language
from tracker.core.fields import EncryptedCharField, EncryptedURLField
from tracker.core.models import TimeStampedModel


class ChannelKind(models.TextChoices):
    FEISHU = "feishu", _("Feishu / Lark")
    DINGTALK = "dingtalk", _("DingTalk")
    WECOM = "wecom", _("WeCom")
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams")
    WEBHOOK = "webhook", _("Signed webhook (Standard Webhooks)")


class ChannelEvent(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalation")
    ESCALATION_OWNER = "escalation_owner", _("Escalation to owner")
    ESCALATION_CONTACT = "escalation_contact", _("Escalation to contact")
    NUDGE = "nudge", _("Still overdue")
    RESOLVED = "resolved", _("Resolved")
    FORECAST_SLIP = "forecast_slip", _("Forecast late")
    D_DAY_AT_RISK = "d_day_at_risk", _("D-day at risk")
    WEEKLY_REPORT = "weekly_report", _("Weekly report")
    MONTHLY_REPORT = "monthly_report", _("Monthly report")


class PersonalEvent(models.TextChoices):
    """What only people (never chat channels) hear about: comments on nodes."""

    MENTION = "mention", _("Mentioned in a comment")
    COMMENT = "comment", _("Comment on my node")


# Every kind a person may hear about, with its label: the preference table's rows and the
# inbox's kinds.
NOTIFICATION_KINDS = [*ChannelEvent.choices, *PersonalEvent.choices]


def kind_label(kind: str) -> str:
    """The label of a kind of NOTIFICATION_KINDS, in the active language."""
    return str(dict(NOTIFICATION_KINDS).get(kind, kind))


# Which channels receive an event about a node of project P in department D, the one rule:
# an active channel that follows the event, scoped to P, or to D, or to neither (everything);
# never to both (a check constraint). The scope columns are listed here once; `Channel.receives`
# and the deadline scan's SQL join (`tracker.alerts.services`) are both built from this list.
CHANNEL_SCOPE = ("project_id", "department_id")


class ChannelQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def following(self, event: str) -> list["Channel"]:
        """Active channels that follow `event`, whatever their scope. Read in Python: `events`
        is a JSON list that SQLite cannot search, and there are only ever a few channels."""
        return [channel for channel in self.active() if channel.follows(event)]


class Channel(TimeStampedModel):
    """A chat group or webhook endpoint that receives alerts and reports."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=ChannelKind.choices)
    # Both are credentials (the URL carries the platform's token): stored encrypted.
    url = EncryptedURLField(_("webhook URL"), max_length=500)
    secret = EncryptedCharField(_("secret"), max_length=200, blank=True)
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="channels",
        verbose_name=_("project"),
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="channels",
        verbose_name=_("department"),
    )
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    language = models.CharField(
        _("message language"), max_length=10, choices=Language.choices, default=Language.EN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ChannelQuerySet.as_manager()

    class Meta:
        db_table = "integrations_channel"
        ordering = ["name"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        constraints = [
            models.CheckConstraint(
                condition=Q(project__isnull=True) | Q(department__isnull=True),
                name="integrations_channel_one_scope",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def follows(self, event: str) -> bool:
        return self.is_active and event in (self.events or [])

    def receives(self, event: str, *, project_id: int | None, department_id: int | None) -> bool:
        """The rule of CHANNEL_SCOPE for one event: a scan matches thousands of alerts against
        a handful of channels, so this reads only the channel in memory."""
        if not self.follows(event):
            return False
        place = {"project_id": project_id, "department_id": department_id}
        scope = {field: getattr(self, field) for field in CHANNEL_SCOPE}
        if all(value is None for value in scope.values()):
            return True
        return any(value is not None and value == place[field] for field, value in scope.items())

    @property
    def event_labels(self) -> list[str]:
        return [str(ChannelEvent(e).label) for e in self.events or [] if e in ChannelEvent.values]

    @property
    def url_display(self) -> str:
        """The URL without its path and query: those carry the platform's token."""
        parts = urlsplit(self.url)
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}/…" if parts.scheme else "…"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    HELD = "held", _("Held for the daily digest")
    MERGED = "merged", _("Sent in a digest")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped (nothing left to send)")


class OutboxEvent(models.TextChoices):
    ALERTS = "alerts", _("Alerts")
    DIGEST = "digest", _("Daily digest")
    WEEKLY_REPORT = "weekly_report", _("Weekly report")
    MONTHLY_REPORT = "monthly_report", _("Monthly report")
    COMMENT = "comment", _("Comment")
    TEST = "test", _("Test message")


class MessageKind(models.TextChoices):
    """How a message travels; the outbox looks its transport up by this."""

    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat message")


class OutboxQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)

    def cut_off(self, *, claimed_before):
        """Messages claimed for sending before `claimed_before` and never recorded since: the
        worker that claimed them stopped mid-send."""
        return self.filter(status=OutboxStatus.SENDING, claimed_at__lt=claimed_before)


class OutboxMessage(models.Model):
    """One email to one person or one message to one chat channel, sent by a Celery task.

    Email bodies are rendered at send time in the recipient's language from `payload`
    (`alert_ids` for alert emails and digests, `snapshot_id` for reports) by the renderer
    registered for the event. Chat alert messages also hold `alert_ids` and are built when
    sent; report and test chat messages are stored whole, in the shape `tracker.core.delivery`
    documents. The row's id is the idempotency key (and the email's Message-ID), the same on
    every attempt. A person in daily-digest mode gets their alert rows HELD; the digest merges
    them into one email.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(_("event"), max_length=20, choices=OutboxEvent.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbox_messages",
        verbose_name=_("recipient"),
    )
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbox_messages",
        verbose_name=_("channel"),
        db_index=False,  # a partial index: emails, most rows, have no channel to index
    )
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    # Unique through Meta.constraints, not `unique=True`: that would add a second
    # (varchar_pattern_ops) index on PostgreSQL, for LIKE lookups nobody makes, to every insert.
    dedupe_key = models.CharField(max_length=200, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    response = models.TextField(_("answer"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        db_table = "alerts_outboxmessage"
        ordering = ["-created_at"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.CheckConstraint(
                condition=Q(recipient__isnull=True) ^ Q(channel__isnull=True),
                name="alerts_outbox_one_destination",
            ),
            models.UniqueConstraint(fields=["dedupe_key"], name="alerts_outbox_dedupe_key"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="alerts_outbox_pending_due",
            ),
            # The admin's lists by status, the digest reading the held rows oldest first, and
            # the sweep finding the (few) rows left sending.
            models.Index(fields=["status", "created_at"], name="alerts_outb_status_808eca_idx"),
            models.Index(
                fields=["channel"],
                condition=Q(channel__isnull=False),
                name="alerts_outbox_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} → {self.recipient or self.channel}"

    @property
    def kind(self) -> str:
        return MessageKind.CHAT if self.channel_id is not None else MessageKind.EMAIL


# Preferences ----------------------------------------------------------------------------------


class PreferenceChannel(models.TextChoices):
    """Where a person may hear about something."""

    EMAIL = "email", _("Email")
    IN_APP = "in_app", _("In the app")
    CHAT = "chat", _("Chat")


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", _("Immediately")
    DIGEST = "digest", _("In the daily digest")
    OFF = "off", _("Off")


# The kinds a person hears about are the events channels follow (ChannelEvent); alert kinds can
# wait for the daily digest (by email), reports cannot.
DIGESTIBLE_KINDS = (
    ChannelEvent.DUE_SOON,
    ChannelEvent.OVERDUE,
    ChannelEvent.ESCALATION,
    ChannelEvent.ESCALATION_OWNER,
    ChannelEvent.ESCALATION_CONTACT,
    ChannelEvent.NUDGE,
    ChannelEvent.RESOLVED,
)


class NotificationPreferenceQuerySet(models.QuerySet):
    def delivery_of(self, *, kind: str, channel: str):
        """The rows that decide how `kind` reaches a person by `channel` (none: immediately)."""
        return self.filter(kind=kind, channel=channel)


class NotificationPreference(models.Model):
    """How one person gets one kind of message by one channel, when not the default
    (immediately): a row per choice that differs, so a person who never changed anything has
    none, and a new kind starts on for everybody. The outbox's fan-outs read these rows;
    muted projects (`User.muted_projects`) still silence a whole project's pushes (email and
    chat) on every kind, not its inbox items (`preferences.MUTE_SILENCES`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("person"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NOTIFICATION_KINDS)
    channel = models.CharField(_("channel"), max_length=10, choices=PreferenceChannel.choices)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices)

    objects = NotificationPreferenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            # Also the index of the fan-out's lookup (person, kind, channel).
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="notifications_preference_once"
            ),
            models.CheckConstraint(
                condition=~Q(delivery=Delivery.IMMEDIATE),
                name="notifications_preference_not_default",
            ),
            models.CheckConstraint(
                condition=~Q(delivery=Delivery.DIGEST)
                | Q(channel=PreferenceChannel.EMAIL, kind__in=DIGESTIBLE_KINDS),
                name="notifications_preference_digest_by_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.kind} · {self.channel}: {self.delivery}"


# The in-app inbox --------------------------------------------------------------------------------


class InboxItemQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)


class InboxItem(models.Model):
    """One thing addressed to one person, shown in their inbox (the bell) at once, whatever
    their email delivery: an alert about a node (written by the scan's fan-out, in the same
    INSERT … SELECT shape as the emails), a mention or a comment.

    The label is rendered when shown, in the reader's language, from `kind` and the node; `text`
    holds what cannot be (a comment's opening words). `alert` and `comment` are kept to show
    each once per person (unique constraints); the database does not check `alert`: alerts go
    with their node through a trigger, and the node's cascade removes these rows first.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="inbox_items",
        verbose_name=_("recipient"),
        db_index=False,  # first column of the indexes below
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NOTIFICATION_KINDS)
    # The node and its project are not checked by the database either, for the reason
    # `Alert.milestone` gives (the scan's fan-out writes thousands at once, and each check would
    # lock, and so write, its node's page): the node-deletion lock (`tracker.core.locks`)
    # keeps a deletion and a scan apart, the trigger of migration 0008 deletes a deleted
    # node's items, and Django's cascade deletes them first when the ORM deletes the node.
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("project"),
        db_constraint=False,
        # No index: only a (never-baselined) project's deletion reads by it, and every item
        # the scan's fan-out writes would write it too.
        db_index=False,
    )
    milestone = models.ForeignKey(
        "milestones.Milestone",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("milestone"),
        db_constraint=False,
    )
    alert = models.ForeignKey(
        "alerts.Alert",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,  # the unique (recipient, alert) index
        db_constraint=False,
    )
    comment = models.ForeignKey(
        "milestones.Comment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique (comment, recipient) index
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
        db_index=False,  # a partial index below: an alert's item has no actor
    )
    text = models.CharField(_("text"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = InboxItemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("inbox item")
        verbose_name_plural = _("inbox items")
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "alert"],
                condition=Q(alert__isnull=False),
                name="notifications_inbox_alert_once",
            ),
            models.UniqueConstraint(
                fields=["comment", "recipient"],
                condition=Q(comment__isnull=False),
                name="notifications_inbox_comment_once",
            ),
        ]
        indexes = [
            # "My latest items" (the inbox page), newest first.
            models.Index(
                "recipient",
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="notifications_inbox_latest",
            ),
            # "My unread count" (the bell on every page): only the unread rows are indexed.
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notifications_inbox_unread",
            ),
            # The retention purge.
            models.Index(fields=["created_at"], name="notifications_inbox_created"),
            # A deleted person's items by them (SET NULL): mentions and comments only.
            models.Index(
                fields=["actor"],
                condition=Q(actor__isnull=False),
                name="notifications_inbox_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} · {self.kind} · {self.milestone_id}"

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)
