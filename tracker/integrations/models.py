from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
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
    RESOLVED = "resolved", _("Resolved")
    WEEKLY_REPORT = "weekly_report", _("Weekly report")
    MONTHLY_REPORT = "monthly_report", _("Monthly report")


class ChannelQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def receiving(self, event: str, *, project_id: int | None, department_id: int | None):
        """Active channels subscribed to `event` whose scope covers the project/department.

        A channel scoped to neither receives everything; a project channel receives its project's
        events; a department channel receives its department's events in every project.
        """
        scope = Q(project__isnull=True, department__isnull=True)
        if project_id is not None:
            scope |= Q(project_id=project_id)
        if department_id is not None:
            scope |= Q(department_id=department_id)
        return self.active().filter(scope, events__contains=[event])


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

    def receives(self, event: str, *, project_id: int | None, department_id: int | None) -> bool:
        """`Channel.objects.receiving` for a channel already in memory: a scan matches
        thousands of alerts against a handful of channels without a query per alert."""
        if not self.is_active or event not in (self.events or []):
            return False
        if self.project_id is None and self.department_id is None:
            return True
        return (project_id is not None and self.project_id == project_id) or (
            department_id is not None and self.department_id == department_id
        )

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


class ChatPlatform(models.TextChoices):
    SLACK = "slack", _("Slack")
    FEISHU = "feishu", _("Feishu / Lark")
    DINGTALK = "dingtalk", _("DingTalk")
    WECOM = "wecom", _("WeCom")
    TEAMS = "teams", _("Microsoft Teams")


class ChatIdentity(models.Model):
    """A chat account (platform + the platform's user id) linked to a Milepost user.

    Slack slash commands carry only an opaque user id, so people link it once by following the
    signed link the bot offers them; platforms that send an email are mapped by email instead.
    """

    platform = models.CharField(_("platform"), max_length=10, choices=ChatPlatform.choices)
    external_id = models.CharField(_("chat user id"), max_length=200)
    display_name = models.CharField(_("chat name"), max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_identities",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["platform", "display_name"]
        verbose_name = _("chat identity")
        verbose_name_plural = _("chat identities")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_id"], name="integrations_chatidentity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}:{self.display_name or self.external_id}"


class CalendarFeed(models.Model):
    """A secret iCalendar URL: a user's own nodes (no project) or one project's nodes.

    The token is the whole credential; revoking deletes the row, regenerating replaces it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feeds",
        verbose_name=_("project"),
    )
    token = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["project__name", "id"]
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        constraints = [
            # Two partial constraints rather than NULLS NOT DISTINCT, which SQLite lacks.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(project__isnull=True),
                name="integrations_calendarfeed_one_personal",
            ),
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(project__isnull=False),
                name="integrations_calendarfeed_one_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.project or _('my nodes')}"


class SendWindow(models.Model):
    """Recent send times of one chat endpoint: the rate limiter's store when Redis is absent."""

    key = models.CharField(max_length=80, unique=True)
    sent_at = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.key
