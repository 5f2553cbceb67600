from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.core.models import TimeStampedModel


class MilestoneStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    BLOCKED = "blocked", _("Blocked")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")

    @classmethod
    def open_values(cls) -> list[str]:
        return [cls.TODO, cls.IN_PROGRESS, cls.BLOCKED]


OPEN_STATUSES = MilestoneStatus.open_values()
# A node's planned due: its baseline due once the plan is locked, else its due date.
PLANNED_DUE = Coalesce("baseline_due_at", "due_at")


class MilestoneQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def overdue(self, now=None):
        return self.open().filter(due_at__lt=now or timezone.now())

    def due_before(self, moment):
        return self.filter(due_at__lt=moment)

    def for_project(self, project_id: int):
        return self.filter(project_id=project_id)


class Milestone(TimeStampedModel):
    """A node on a project's board, owned by one department."""

    # No single-column indexes on project, assignee or template_key: the composite indexes
    # below lead with project and assignee, and nothing filters on template_key alone. Every
    # index is written by each non-HOT update, and the deadline scan flags thousands of nodes.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="milestones", db_index=False
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    department = models.ForeignKey(
        "accounts.Department",
        on_delete=models.PROTECT,
        related_name="milestones",
        verbose_name=_("department"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_milestones",
        verbose_name=_("assignee"),
        db_index=False,
    )
    due_at = models.DateTimeField(_("due"))
    baseline_due_at = models.DateTimeField(_("baseline due"), null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=MilestoneStatus.choices, default=MilestoneStatus.TODO
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    depends_on = models.ManyToManyField(
        "self",
        symmetrical=False,
        through="MilestoneDependency",
        related_name="dependents",
        blank=True,
        verbose_name=_("depends on"),
    )
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1, editable=False)
    template_key = models.SlugField(max_length=60, blank=True, editable=False, db_index=False)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "position", "id"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=MilestoneStatus.DONE) & Q(completed_at__isnull=False))
                | (~Q(status=MilestoneStatus.DONE) & Q(completed_at__isnull=True)),
                name="milestones_completed_iff_done",
            )
        ]
        indexes = [
            models.Index(fields=["project", "department", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["due_at"]),
            # Reports select a period's nodes by their planned due (baseline, else due date).
            models.Index(PLANNED_DUE, name="milestones_planned_due"),
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=OPEN_STATUSES, overdue_flagged_at__isnull=True),
                name="milestones_open_unflagged_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def planned_due_at(self):
        return self.baseline_due_at or self.due_at

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class MilestoneDependency(models.Model):
    """`milestone` cannot finish before `depends_on` (an edge upstream → downstream)."""

    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="upstream_links"
    )
    depends_on = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="downstream_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "depends_on"], name="milestones_dep_unique"
            ),
            models.CheckConstraint(
                condition=~Q(milestone=models.F("depends_on")), name="milestones_dep_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} ← {self.depends_on_id}"


class MilestoneChange(models.Model):
    """One changed field of one node: the audit trail behind the board and the reports."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=40)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["milestone", "created_at"])]

    def __str__(self) -> str:
        return f"{self.milestone_id}.{self.field}: {self.old_value} → {self.new_value}"
