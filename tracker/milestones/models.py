"""Nodes, their dependencies and their history, and the words every consumer uses for them.

The vocabulary (docs/vocabulary.md) is defined here once, as conditions and queryset methods:
`open()`, `in_active_projects()`, `overdue(at)`, `due_soon(at, window)`, `at_risk()` and
`counted_in_reports()`. The API, the board, My work, the chat commands, the calendar feeds,
the deadline scan and the reports all use them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import (
    BooleanField,
    DateTimeField,
    Expression,
    ExpressionWrapper,
    F,
    Q,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tracker.core import permissions
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
# How long a write of a node may take from stamping `updated_at` to its COMMIT and still be
# seen by a reader of `changed_since` (the scan's watermark): the stamp is taken before the
# transaction commits, so a reader looking only after its previous run would miss a write that
# was in flight during that run.
CHANGE_MARGIN = timedelta(hours=1)
# A node's planned due: its baseline due once the plan is locked, else its due date.
# Deviation (the reports) is judged against it; overdue and due soon against `due_at`.
PLANNED_DUE = Coalesce("baseline_due_at", "due_at")


def open_condition() -> Q:
    """Not done, not cancelled."""
    return Q(status__in=OPEN_STATUSES)


def in_active_projects_condition() -> Q:
    """The node's project is planning or active (not closed, not archived): the project's own
    word, `ProjectQuerySet.quiet()`, reached through the node's foreign key (`projects` sits
    above `milestones`, so it is never imported here).

    Spelled `NOT IN (quiet projects)`: a filter the planner keeps on the node's own index
    scan, where a join with the (many) active projects tempts it into reading every node.
    """
    project_model = Milestone._meta.get_field("project").related_model
    return ~Q(project_id__in=project_model.objects.quiet().values("pk"))


def changed_after(moment: datetime) -> datetime:
    """The earliest stamp a write not yet committed at `moment` can carry (`CHANGE_MARGIN`)."""
    return moment - CHANGE_MARGIN


def written_after_condition(stamp: datetime) -> Q:
    """Stamped after `stamp` (every write of a node stamps `updated_at`; forecast refreshes
    are not changes): a range of the `milestones_updated_due` index."""
    return Q(updated_at__gt=stamp)


def changed_since_condition(moment: datetime) -> Q:
    """Written since `moment`, `CHANGE_MARGIN` included (`changed_after`)."""
    return written_after_condition(changed_after(moment))


def overdue_condition(at: datetime) -> Q:
    """Open, in an active project, and its current due date (`due_at`) is before `at`."""
    return open_condition() & in_active_projects_condition() & Q(due_at__lt=at)


def due_soon_condition(
    at: datetime, window: timedelta | None = None, until: Expression | None = None
) -> Q:
    """Open, in an active project, and its current due date lies in [`at`, `at` + window]
    (both ends in); without `window`, each project's own `due_soon_window`. `until` gives the
    far edge per node instead: the scan's window of working time (`alerts.working_time`)."""
    if until is not None:
        far_edge = until
    elif window is not None:
        far_edge = Value(at + window, output_field=DateTimeField())
    else:
        far_edge = ExpressionWrapper(
            Value(at, output_field=DateTimeField()) + F("project__due_soon_window"),
            output_field=DateTimeField(),
        )
    return (
        open_condition()
        & in_active_projects_condition()
        & Q(due_at__gte=at)
        & Q(due_at__lte=far_edge)
    )


class DeviationReasonQuerySet(models.QuerySet):
    def active(self) -> DeviationReasonQuerySet:
        return self.filter(active=True)


class DeviationReason(models.Model):
    """Why a node of a baselined project moved, was cancelled or finished late: a stable code
    (what requests and the history carry) and its names in English and Simplified Chinese,
    edited by staff in the admin. A reason that `requires_text` ("other") needs a text too."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=100)
    requires_text = models.BooleanField(
        _("needs a text"), default=False, help_text=_("The person must also say why, in words.")
    )
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = DeviationReasonQuerySet.as_manager()

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("deviation reason")
        verbose_name_plural = _("deviation reasons")

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"

    @property
    def name(self) -> str:
        """The name in the active language (Simplified Chinese for zh-hans, else English)."""
        language = (get_language() or "en").lower()
        return self.name_zh_hans if language.startswith("zh") else self.name_en


def at_risk_condition() -> Q:
    """Open, in an active project, and its persisted forecast (`forecast_at`, written by the
    forecast recompute) is later than its current due date: the one definition of at risk
    (docs/forecast.md). An overdue node is at risk too (its forecast is at least now)."""
    # `IS NOT NULL` first: as a column (`with_flags`) a node never forecast reads false, not NULL.
    return (
        open_condition()
        & in_active_projects_condition()
        & Q(forecast_at__isnull=False)
        & Q(forecast_at__gt=F("due_at"))
    )


class MilestoneQuerySet(models.QuerySet):
    def visible_to(self, user, *, include_archived: bool = False) -> MilestoneQuerySet:
        """Where every read of nodes starts: the nodes of the projects
        `Project.objects.visible_to(user, include_archived=…)` gives."""
        scope = permissions.read_scope(user, include_archived=include_archived, project="project__")
        return self.none() if scope is None else self.filter(scope)

    def open(self) -> MilestoneQuerySet:
        return self.filter(open_condition())

    def in_active_projects(self) -> MilestoneQuerySet:
        return self.filter(in_active_projects_condition())

    def changed_since(self, moment: datetime) -> MilestoneQuerySet:
        return self.filter(changed_since_condition(moment))

    def overdue(self, at: datetime) -> MilestoneQuerySet:
        return self.filter(overdue_condition(at))

    def due_soon(
        self, at: datetime, window: timedelta | None = None, until: Expression | None = None
    ) -> MilestoneQuerySet:
        return self.filter(due_soon_condition(at, window, until))

    def at_risk(self, at: datetime | None = None) -> MilestoneQuerySet:
        """Open, in an active project, and forecast to finish later than due
        (`at_risk_condition`). `at` is accepted for symmetry with `overdue(at)`: the forecast
        was computed by the last recompute (`tracker.milestones.forecast`), not at `at`."""
        return self.filter(at_risk_condition())

    def counted_in_reports(self, *, baseline_at: datetime | None = None) -> MilestoneQuerySet:
        """The nodes deviation reports count, with their `planned_due`: the nodes of baselined
        projects (closed and archived ones too: their history stays), cancelled nodes never.

        `planned_due` is the baseline in force at `baseline_at` (a closed period's end: a
        later re-baseline does not change how that period is measured), else the current one."""
        return (
            self.filter(project__baselined_at__isnull=False)
            .exclude(status=MilestoneStatus.CANCELLED)
            .annotate(planned_due=planned_due_at(baseline_at))
        )

    def left_out_of_reports(self) -> MilestoneQuerySet:
        """Nodes the reports leave out because their project has no baseline (a planning
        project's movable dates are not a plan of record), with their `planned_due`."""
        return (
            self.filter(project__baselined_at__isnull=True)
            .exclude(status=MilestoneStatus.CANCELLED)
            .annotate(planned_due=PLANNED_DUE)
        )

    def with_flags(self, at: datetime) -> MilestoneQuerySet:
        """`is_overdue` and `is_at_risk` as columns, by the rules above."""
        return self.annotate(
            is_overdue=ExpressionWrapper(overdue_condition(at), output_field=BooleanField()),
            is_at_risk=ExpressionWrapper(at_risk_condition(), output_field=BooleanField()),
        )


class Milestone(TimeStampedModel):
    """A node on a project's board, owned by one department."""

    # No single-column indexes on project, assignee or template_key: the lane's unique index
    # leads with project and an index below with assignee, and nothing filters on template_key
    # alone. Every
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
    added_after_baseline = models.BooleanField(
        _("added after baseline"),
        default=False,
        editable=False,
        help_text=_("Added to a baselined project: its first due date became its baseline."),
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    template_key = models.SlugField(max_length=60, blank=True, editable=False, db_index=False)
    # Written by the forecast recompute (`tracker.milestones.forecast`), never by an edit:
    # when the node is forecast to finish, its float in working days (negative: it pushes a
    # downstream due date or the D-day) and whether it is on its project's critical path.
    forecast_at = models.DateTimeField(_("forecast"), null=True, blank=True, editable=False)
    float_days = models.IntegerField(
        _("float (working days)"), null=True, blank=True, editable=False
    )
    on_critical_path = models.BooleanField(_("on the critical path"), default=False, editable=False)

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
            ),
            # One card per slot of a lane (tracker.milestones.positions allocates them).
            models.UniqueConstraint(
                fields=["project", "department", "position"],
                name="milestones_lane_position_unique",
            ),
        ]
        # Each index below is written by every non-HOT update of a node (the scan writes none),
        # so each has a named hot reader (docs/benchmarks.md, "Indexes"). The
        # project's own lookups (the board, forecasts, cascades) read the lane's unique index
        # above, which leads with the project.
        indexes = [
            # My work: a person's open nodes.
            models.Index(fields=["assignee", "status"]),
            # Lists by due date: the API's `due_before` and order, calendar feeds, the chat
            # commands' overdue list; the forecast's nodes that went overdue since a scan.
            models.Index(fields=["due_at"]),
            # Reports select a period's nodes by their planned due (baseline, else due date).
            # Covering (PostgreSQL; SQLite ignores `include`): it carries every column the
            # week's pass and the monthly figures read, so they are an index-only scan of a
            # narrow index instead of a read of the period's rows scattered over the wide
            # node table. The planner needs the planned due's own columns for that. Each
            # included column is already in another index (or changes only with one that is:
            # completion changes the status), so no update that was HOT stops being HOT.
            models.Index(
                PLANNED_DUE,
                name="milestones_planned_due",
                include=[
                    "id",
                    "due_at",
                    "baseline_due_at",
                    "status",
                    "completed_at",
                    "project",
                    "department",
                ],
            ),
            # The reports' backlog: nodes still open from earlier periods, by planned due. The
            # condition is spelled as the report's filter (not done, not cancelled), so the
            # planner can prove it; covering, as the one above, for the backlog's count.
            models.Index(
                PLANNED_DUE,
                condition=~Q(status=MilestoneStatus.DONE) & ~Q(status=MilestoneStatus.CANCELLED),
                name="milestones_open_planned_due",
                include=["due_at", "baseline_due_at", "project", "department"],
            ),
            # Open nodes by due date: the scan's overdue step (every minute: those that went
            # past due since its previous run, `alerts.raising`) and its due-soon step (those
            # entering the window). The scan never writes the node, so a node's row and its
            # indexes are rewritten only when someone changes it.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=OPEN_STATUSES),
                name="milestones_open_due",
            ),
            # The at-risk nodes (`at_risk_condition`): the scan's forecast alerts read them.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=OPEN_STATUSES, forecast_at__gt=F("due_at")),
                name="milestones_open_forecast_late",
            ),
            # `changed_since`: the nodes written since a scan step's previous run, which the
            # quarter-hour resolution, due-soon and forecast steps and the every-minute overdue
            # step read instead of every node. The due date in the key lets the overdue step's
            # `due_at < now` and due soon's window be index conditions: an empty minute reads
            # no heap page for the hour of nodes the margin keeps in range.
            models.Index(fields=["updated_at", "due_at"], name="milestones_updated_due"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


# The longest declared minimum lead a link may carry, in working days (API and import).
MAX_LEAD_DAYS = 365


class MilestoneDependency(models.Model):
    """`milestone` cannot finish before `depends_on` (an edge upstream → downstream)."""

    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="upstream_links"
    )
    depends_on = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="downstream_links"
    )
    # The declared minimum lead from `depends_on` to `milestone`, in working days; without it
    # the lead is the whole planned gap between the two (docs/forecast.md).
    min_lead_days = models.PositiveSmallIntegerField(
        _("minimum lead (working days)"), null=True, blank=True
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


class CommentQuerySet(models.QuerySet):
    def shown(self) -> CommentQuerySet:
        """The comments a thread shows: those not deleted."""
        return self.filter(deleted_at__isnull=True)


class Comment(models.Model):
    """One message in a node's thread. The body is Markdown, cleaned when shown; posting goes
    through `tracker.notifications.comments.comment_post`, which tells the people it names
    (@username) and the node's assignee. Deleting keeps the row (the thread's order and the
    inbox items that point at it) and clears the body."""

    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="comments", verbose_name=_("milestone")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("comment"), max_length=5000)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [
            models.Index(fields=["milestone", "created_at"], name="milestones_comment_thread")
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} · {self.author_id} @ {self.created_at:%Y-%m-%d %H:%M}"


class BaselineEntry(models.Model):
    """A node's planned due in one baseline of its project (number 1 is the first; a
    re-baseline adds the next). Every baseline is kept, so a closed period stays measured
    against the baseline that was in force when it ended."""

    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="baseline_entries"
    )
    number = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["milestone", "number"]
        indexes = [models.Index(fields=["milestone", "taken_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "number"], name="milestones_baseline_entry_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id}#{self.number}: {self.due_at:%Y-%m-%d %H:%M}"


def planned_due_at(baseline_at: datetime | None = None) -> Expression:
    """A node's planned due: the baseline in force at `baseline_at` when given (the newest
    baseline entry taken by then), else its current baseline, else its due date."""
    if baseline_at is None:
        return PLANNED_DUE
    in_force = (
        BaselineEntry.objects.filter(milestone=models.OuterRef("pk"), taken_at__lte=baseline_at)
        .order_by("-taken_at", "-number")
        .values("due_at")[:1]
    )
    return Coalesce(models.Subquery(in_force), "baseline_due_at", "due_at")


class MilestoneChange(models.Model):
    """One changed field of one node: the audit trail behind the board and the reports.

    A row outlives its node (`SET_NULL`): it keeps the node's id, title, project and
    department, and the node's planned due when the change was made, so a deletion or a
    cancellation still shows as a restatement of the period it fell in. `created_at` is the
    moment the change was entered; a completion's claimed time is its `new_value`."""

    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    node_id = models.BigIntegerField(_("node id"), null=True, blank=True, db_index=True)
    node_title = models.CharField(_("node"), max_length=200, blank=True)
    project_ref = models.BigIntegerField(_("project id"), null=True, blank=True, db_index=True)
    department_ref = models.BigIntegerField(_("department id"), null=True, blank=True)
    planned_due = models.DateTimeField(_("planned due"), null=True, blank=True)
    field = models.CharField(max_length=40)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["milestone", "created_at"]),
            models.Index(fields=["created_at"], name="milestones_change_created"),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id}.{self.field}: {self.old_value} → {self.new_value}"


class ProjectForecast(models.Model):
    """When a project's forecast was last computed, and what it found of its D-day: the scan
    recomputes the projects whose nodes changed since `computed_at`."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="forecast", primary_key=True
    )
    computed_at = models.DateTimeField()
    critical_path = models.JSONField(default=list, blank=True)  # node ids, upstream first
    d_day_float_days = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.project_id} @ {self.computed_at:%Y-%m-%d %H:%M}"


class LatenessEpisode(models.Model):
    """One stretch of a node's lateness: from the moment it first became overdue
    (`overdue_condition`) until it was done or cancelled (docs/escalation.md).

    Re-planning the node during an episode neither ends it nor restarts its clock: the
    escalation ladder counts working hours from `started_at`. A re-opened node starts a new
    one. The deadline scan starts, climbs and ends episodes set-based; `rung` (the highest rung
    reached, 1 = the assignee's overdue notice), `nudges` (the last nudge slot sent),
    `promised_at` (the promise in force) and `snoozed_until` are its bookkeeping, so each
    step reads only the open episodes that have something to do."""

    # Neither foreign key is checked by a database constraint, for the reason `Alert.milestone`
    # gives: a scan starts thousands of episodes at once, and checking each at commit cost it
    # more than starting them. The node-deletion lock (`tracker.core.locks`) keeps a deletion
    # and a scan apart; a trigger (alerts migration 0008) deletes a node's episodes whoever
    # deletes it; Django's cascade deletes them first when the ORM deletes the node (or its
    # project).
    milestone = models.ForeignKey(
        Milestone,
        on_delete=models.CASCADE,
        related_name="episodes",
        verbose_name=_("milestone"),
        db_index=False,  # (milestone, started_at) and the one open episode per node serve it
        db_constraint=False,
    )
    # The node's project (copied when the episode starts): the scan's per-project deadlines
    # are expressions over `project_id`, as they are for alerts.
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    started_at = models.DateTimeField(_("overdue since"))
    started_due_at = models.DateTimeField(_("due when it started"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    rung = models.PositiveSmallIntegerField(_("rung reached"), default=1, db_default=1)
    nudges = models.PositiveSmallIntegerField(_("nudges sent"), default=0, db_default=0)
    promised_at = models.DateTimeField(_("promised"), null=True, blank=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    scan_id = models.UUIDField(editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("lateness episode")
        verbose_name_plural = _("lateness episodes")
        constraints = [
            # One open episode per node: a racing scan's insert does nothing.
            models.UniqueConstraint(
                fields=["milestone"],
                condition=Q(ended_at__isnull=True),
                name="milestones_one_open_episode",
            ),
        ]
        indexes = [
            models.Index(fields=["milestone", "started_at"]),
            # The open episodes by rung and by nudges sent: the every-minute scan's probe of
            # the earliest at each (`alerts.ladder.ladder_pending`), then the rungs' and the
            # nudges' steps when it finds one due (ended episodes cost nothing).
            models.Index(
                fields=["rung", "started_at"],
                condition=Q(ended_at__isnull=True),
                name="milestones_episode_rungs",
            ),
            models.Index(
                fields=["nudges", "started_at"],
                condition=Q(ended_at__isnull=True),
                name="milestones_episode_nudges",
            ),
            # The promises in force: the probe's earliest one, the broken promises' step.
            models.Index(
                fields=["promised_at"],
                condition=Q(ended_at__isnull=True, promised_at__isnull=False),
                name="milestones_episode_promised",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} late since {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class PromiseOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")
    SUPERSEDED = "superseded", _("Replaced by a later promise")
    VOID = "void", _("Void (node cancelled)")

    @classmethod
    def judged_values(cls) -> list[str]:
        """The outcomes the promise-kept rate counts: kept, and the two ways of not keeping."""
        return [cls.KEPT, cls.BROKEN, cls.SUPERSEDED]


class PromiseQuerySet(models.QuerySet):
    def judged(self) -> PromiseQuerySet:
        """Promises whose outcome is known and counts (kept, broken or replaced)."""
        return self.filter(outcome__in=PromiseOutcome.judged_values())

    def kept(self) -> PromiseQuerySet:
        return self.filter(outcome=PromiseOutcome.KEPT)


class Promise(models.Model):
    """An acknowledgement of a lateness episode by the assignee or the department lead: "I
    know; new ETA `promised_at`", with a reason code and a note. It pauses the repeat nudges
    and the ladder until `promised_at`; it changes neither the due date nor the baseline.

    `outcome` is written once it is known: kept (done by `promised_at`), broken (still open
    then: the scan climbs the ladder at once, `broken_at`), superseded (a later promise was
    made before this one came due) or void (the node was cancelled). The analysis's
    promise-kept rate reads `judged()` and `kept()`."""

    episode = models.ForeignKey(LatenessEpisode, on_delete=models.CASCADE, related_name="promises")
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="promises")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    promised_at = models.DateTimeField(_("promised"))
    reason_code = models.CharField(_("reason code"), max_length=40)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("acknowledged at"), default=timezone.now)
    outcome = models.CharField(
        _("outcome"),
        max_length=12,
        choices=PromiseOutcome.choices,
        default=PromiseOutcome.PENDING,
    )
    broken_at = models.DateTimeField(_("broken at"), null=True, blank=True)

    objects = PromiseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("promise")
        verbose_name_plural = _("promises")
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(
                fields=["episode"],
                condition=Q(outcome="pending"),
                name="milestones_pending_promises",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} promised {self.promised_at:%Y-%m-%d %H:%M}"
