from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
    url = models.URLField(_("webhook URL"), max_length=500)
    secret = models.CharField(_("secret"), max_length=200, blank=True)
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
