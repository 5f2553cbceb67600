from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracker.reports.periods import PeriodKind

__all__ = ["PeriodKind", "ReportSnapshot"]


class ReportSnapshot(models.Model):
    """A computed report, kept as it was when it was sent: once its period has closed, the
    figure of record of that period and scope.

    One current row per period and scope (`superseded_at` empty): re-running the scheduled
    report keeps it. Only staff re-take a closed period's snapshot, with a reason; the earlier
    one is kept, superseded. `scope` is "all", "project:<id>" or "department:<code>".
    """

    kind = models.CharField(_("period kind"), max_length=5, choices=PeriodKind.choices)
    label = models.CharField(_("period"), max_length=10)
    scope = models.CharField(_("scope"), max_length=60, default="all")
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_snapshots",
        verbose_name=_("project"),
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_snapshots",
        verbose_name=_("department"),
    )
    period_start = models.DateTimeField(_("start"))
    period_end = models.DateTimeField(_("end"))
    as_of = models.DateTimeField(_("as of"))
    deviation_rate = models.FloatField(_("deviation rate"), null=True, blank=True)
    breached = models.BooleanField(_("over threshold"), default=False)
    data = models.JSONField(_("report"), encoder=DjangoJSONEncoder)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("re-taken by"),
    )
    reason = models.TextField(_("why re-taken"), blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-period_start", "kind", "scope"]
        verbose_name = _("report snapshot")
        verbose_name_plural = _("report snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "label", "scope"],
                condition=models.Q(superseded_at__isnull=True),
                name="reports_snapshot_once_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.scope})"
