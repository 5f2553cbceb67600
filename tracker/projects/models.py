from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.core import permissions
from tracker.core.models import TimeStampedModel
from tracker.workcal.calendar import WarRoom, WorkingHours, default_working_hours
from tracker.workcal.models import RollRule


class ProjectKind(models.TextChoices):
    CAMPAIGN = "campaign", _("Sale campaign")
    LAUNCH = "launch", _("Product launch")


class ProjectStatus(models.TextChoices):
    PLANNING = "planning", _("Planning")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")
    ARCHIVED = permissions.ARCHIVED, _("Archived")

    @classmethod
    def allowed_next(cls, old: str) -> list[str]:
        """The statuses a project in `old` may move to (`project_status_check` enforces it):
        forward one step at a time (planning → active → closed → archived), a plan abandoned
        (planning → archived) or a closed project re-opened (closed → active); archived is
        final. Creating a project is no transition: it may start in any status."""
        return {
            cls.PLANNING: [cls.ACTIVE, cls.ARCHIVED],
            cls.ACTIVE: [cls.CLOSED],
            cls.CLOSED: [cls.ARCHIVED, cls.ACTIVE],
            cls.ARCHIVED: [],
        }.get(old, [])

    @classmethod
    def quiet_values(cls) -> list[str]:
        """Closed and archived: finished projects. They raise no alerts and none of their
        nodes is overdue, due soon or at risk; their history stays in the reports."""
        return [cls.CLOSED, cls.ARCHIVED]

    @classmethod
    def alerting_values(cls) -> list[str]:
        """Active only: the projects whose late nodes raise overdue alerts and lateness
        episodes (a planning project's past-due nodes wait for its activation)."""
        return [cls.ACTIVE]

    @classmethod
    def active_values(cls) -> list[str]:
        """Planning and active: the projects whose nodes are still work (see `quiet_values`)."""
        return [status for status in cls.values if status not in cls.quiet_values()]


class PastNodeAction(models.TextChoices):
    """What the new-project wizard does with a template node whose date is already past."""

    RESCHEDULE = "reschedule", _("Keep it, due the next working day")
    DONE = "done", _("Mark it done")
    SKIP = "skip", _("Leave it out")


class OffsetUnit(models.TextChoices):
    CALENDAR_DAYS = "calendar_days", _("calendar days")
    WORKING_DAYS = "working_days", _("working days")


class ProjectTemplate(TimeStampedModel):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=ProjectKind.choices)
    description = models.TextField(_("description"), blank=True)
    offset_unit = models.CharField(
        _("offsets count"),
        max_length=15,
        choices=OffsetUnit.choices,
        default=OffsetUnit.CALENDAR_DAYS,
    )
    roll_rule = models.CharField(
        _("a node on a non-working day moves to"),
        max_length=10,
        choices=RollRule.choices,
        default=RollRule.PREVIOUS,
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")

    def __str__(self) -> str:
        return self.name


class TemplateNode(models.Model):
    """One node of a template, scheduled relative to the project's D-day."""

    template = models.ForeignKey(ProjectTemplate, on_delete=models.CASCADE, related_name="nodes")
    key = models.SlugField(_("key"), max_length=60)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    department_code = models.SlugField(_("department code"), max_length=40)
    offset_days = models.IntegerField(
        _("offset (days)"),
        help_text=_(
            "Days from the D-day, in the template's unit (calendar or working days); "
            "negative is before it."
        ),
    )
    time_of_day = models.TimeField(_("time of day"))
    depends_on = models.JSONField(_("depends on (keys)"), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["template", "position", "offset_days"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="projects_templatenode_key")
        ]

    def __str__(self) -> str:
        return f"{self.template.code}:{self.key}"


def default_due_soon_window() -> timedelta:
    """A new project's reminder window: `DUE_SOON_HOURS` before a due date."""
    return timedelta(hours=settings.DUE_SOON_HOURS)


def default_escalate_after() -> timedelta:
    """A new project's second rung (the department lead): `ESCALATE_AFTER_HOURS` working
    hours into a lateness episode."""
    return timedelta(hours=settings.ESCALATE_AFTER_HOURS)


def default_escalate_owner_after() -> timedelta:
    """A new project's third rung (its owner): `ESCALATE_OWNER_AFTER_HOURS` working hours."""
    return timedelta(hours=settings.ESCALATE_OWNER_AFTER_HOURS)


def default_escalate_contact_after() -> timedelta:
    """A new project's fourth rung (the escalation contact): `ESCALATE_CONTACT_AFTER_HOURS`."""
    return timedelta(hours=settings.ESCALATE_CONTACT_AFTER_HOURS)


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user, *, include_archived: bool = False):
        """Where every read of projects starts: all of them for a signed-in user
        (`permissions.can_read`), none for anyone else; archived ones only when asked for."""
        scope = permissions.read_scope(user, include_archived=include_archived)
        return self.none() if scope is None else self.filter(scope)

    def active(self):
        """Projects whose nodes are still work: planning or active (docs/vocabulary.md)."""
        return self.filter(status__in=ProjectStatus.active_values())

    def alerting(self):
        """Active projects: their late nodes raise overdue alerts and climb the ladder."""
        return self.filter(status__in=ProjectStatus.alerting_values())

    def quiet(self):
        """Closed or archived projects: they raise no alerts and list nothing as overdue."""
        return self.filter(status__in=ProjectStatus.quiet_values())


class Project(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=ProjectKind.choices)
    d_day = models.DateTimeField(_("D-day"), help_text=_("The go-live moment."))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_projects",
        verbose_name=_("owner"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.PLANNING
    )
    deviation_threshold = models.DecimalField(
        _("deviation threshold"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.10"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("Share of nodes allowed to miss their planned date, e.g. 0.10."),
    )
    baselined_at = models.DateTimeField(_("baselined at"), null=True, blank=True, editable=False)
    baseline_number = models.PositiveSmallIntegerField(
        _("baseline in force"), default=0, editable=False
    )
    template = models.ForeignKey(
        ProjectTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="projects"
    )
    due_soon_window = models.DurationField(_("remind before due"), default=default_due_soon_window)
    # The escalation ladder (docs/escalation.md), in working hours of a lateness episode:
    # the assignee at once, then the department lead, the owner, the escalation contact.
    escalate_after = models.DurationField(
        _("escalate to the department lead after"), default=default_escalate_after
    )
    escalate_owner_after = models.DurationField(
        _("escalate to the owner after"), default=default_escalate_owner_after
    )
    escalate_contact_after = models.DurationField(
        _("escalate to the escalation contact after"), default=default_escalate_contact_after
    )
    nudge_every = models.DurationField(
        _("nudge the assignee every"),
        null=True,
        blank=True,
        help_text=_("Working time between repeat nudges; empty: once per working day."),
    )
    escalation_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("escalation contact"),
        help_text=_("The ladder's last rung; empty: the organisation's (ESCALATION_CONTACT)."),
    )
    working_hours = models.CharField(
        _("working hours"),
        max_length=100,
        blank=True,
        help_text=_("e.g. 09:00-12:00,13:00-18:00; empty: the organisation's."),
    )
    war_room = models.BooleanField(
        _("war room"),
        default=False,
        help_text=_("Work through weekends and holidays around the D-day, day and night."),
    )
    war_room_days_before = models.PositiveSmallIntegerField(_("war room from D-"), default=3)
    war_room_days_after = models.PositiveSmallIntegerField(_("war room until D+"), default=3)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["d_day", "name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deviation_threshold__gte=0, deviation_threshold__lte=1),
                name="projects_project_threshold_fraction",
            )
        ]
        indexes = [
            models.Index(fields=["status", "d_day"]),
            # The projects written since a scan step's previous run (`alerts.raising`): their
            # nodes' windows and activation may have changed without a node being written.
            models.Index(fields=["updated_at"], name="projects_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    # The ladder's windows: each a positive working time (`clean`).
    LADDER_WINDOWS = ("escalate_after", "escalate_owner_after", "escalate_contact_after")

    def clean(self) -> None:
        errors = {
            field: _("Enter a positive duration.")
            for field in (*self.LADDER_WINDOWS, "nudge_every")
            if getattr(self, field) is not None and getattr(self, field) <= timedelta(0)
        }
        if errors:
            raise ValidationError(errors)
        if self.working_hours:
            try:
                WorkingHours.parse(self.working_hours)
            except ValidationError as error:
                raise ValidationError({"working_hours": error.messages}) from error

    @property
    def war_room_window(self) -> WarRoom | None:
        """The days from D-N to D+M (local dates) when the war room is on."""
        if not self.war_room:
            return None
        return WarRoom.around(
            timezone.localtime(self.d_day).date(),
            before=self.war_room_days_before,
            after=self.war_room_days_after,
        )

    @property
    def hours(self) -> WorkingHours:
        """The project's working hours, or the organisation's."""
        if self.working_hours:
            return WorkingHours.parse(self.working_hours)
        return default_working_hours()


class ProjectBaseline(models.Model):
    """One baseline of a project: the first at activation, each later one an explicit
    re-baseline with a reason. All are kept (the nodes' dates are `BaselineEntry` rows)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="baselines")
    number = models.PositiveSmallIntegerField(_("number"))
    taken_at = models.DateTimeField(_("taken at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    node_count = models.PositiveIntegerField(_("nodes"), default=0)

    class Meta:
        ordering = ["project", "number"]
        verbose_name = _("baseline")
        verbose_name_plural = _("baselines")
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="projects_baseline_once")
        ]

    def __str__(self) -> str:
        return f"{self.project_id}#{self.number}"
