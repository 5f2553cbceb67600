"""Reads that only the browser UI needs: "my work", project health, the lists behind filters.

The rules they lean on (overdue, at risk, deviation) stay in the milestones and reports
selectors; these functions only arrange them for a page, in a constant number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.accounts.models import Department, User
from tracker.alerts.models import Alert
from tracker.milestones.models import (
    OPEN_STATUSES,
    Comment,
    Milestone,
    MilestoneChange,
    MilestoneDependency,
    MilestoneStatus,
    due_soon_condition,
    open_condition,
    overdue_condition,
)
from tracker.milestones.selectors import (
    BoardLane,
    annotate_flags,
    board_lanes,
    forecast_days_late,
    milestone_queryset,
    project_nodes,
)
from tracker.notifications.inbox import inbox_unread_count
from tracker.projects.models import Project
from tracker.reports.periods import week_period
from tracker.reports.selectors import deviation_report

RECENTLY_DONE = timedelta(days=7)
MY_WORK_LIMIT = 50


@dataclass
class MyWork:
    overdue: list[Milestone] = field(default_factory=list)
    due_this_week: list[Milestone] = field(default_factory=list)
    at_risk: list[Milestone] = field(default_factory=list)
    recently_done: list[Milestone] = field(default_factory=list)
    week_end: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.due_this_week or self.at_risk or self.recently_done)


def user_department_ids(user: User) -> set[int]:
    """Departments a user belongs to or leads, in one query."""
    return set(
        Department.objects.filter(Q(members=user) | Q(lead=user)).values_list("id", flat=True)
    )


def my_work(*, user: User, now: datetime | None = None) -> MyWork:
    """Open nodes the user answers for: assigned to them, in the departments they belong to or
    lead, or in the projects they own; in active projects, sorted
    into the sections a team lead scans every morning (the queryset's vocabulary: overdue,
    at risk, due soon until the end of the week).

    A node that is overdue is listed only under overdue, an at-risk node only once.
    """
    now = now or timezone.now()
    week_end = week_period(now).end
    departments = user_department_ids(user)
    mine = (
        milestone_queryset()
        .visible_to(user)
        .filter(Q(assignee=user) | Q(department_id__in=departments) | Q(project__owner=user))
        .in_active_projects()
    )
    # The week ends at `week_end` exclusive; the due-soon window includes its far edge.
    this_week = due_soon_condition(now, week_end - now - timedelta(microseconds=1))
    open_nodes = list(
        mine.open()
        .with_flags(now)
        .annotate(is_due_this_week=ExpressionWrapper(this_week, output_field=BooleanField()))
        .order_by("due_at", "id")
    )
    work = MyWork(week_end=week_end)
    for node in open_nodes:
        node.is_mine = node.assignee_id == user.pk
        if node.is_overdue:
            work.overdue.append(node)
        elif node.is_at_risk:
            work.at_risk.append(node)
        elif node.is_due_this_week:
            work.due_this_week.append(node)
    work.overdue = work.overdue[:MY_WORK_LIMIT]
    work.at_risk = work.at_risk[:MY_WORK_LIMIT]
    work.due_this_week = work.due_this_week[:MY_WORK_LIMIT]
    work.recently_done = list(
        mine.filter(status=MilestoneStatus.DONE, completed_at__gte=now - RECENTLY_DONE).order_by(
            "-completed_at", "-id"
        )[:MY_WORK_LIMIT]
    )
    for node in work.recently_done:
        node.is_mine = node.assignee_id == user.pk
    return work


class Health:
    """How a project is doing; each value carries a label and a symbol, never colour alone."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"

    LABELS = {
        ON_TRACK: _("On track"),
        AT_RISK: _("At risk"),
        OFF_TRACK: _("Off track"),
    }


@dataclass
class ProjectRow:
    project: Project
    health: str
    node_count: int = 0
    open_count: int = 0
    overdue_count: int = 0
    at_risk_count: int = 0
    deviation_rate: float | None = None
    days_to_d_day: int = 0

    @property
    def health_label(self) -> str:
        return str(Health.LABELS[self.health])


def project_health(*, overdue_count: int, at_risk_count: int, deviation_breached: bool) -> str:
    """Off track when this week's deviation rate is above the project's threshold; at risk
    when any node is overdue or waits on an overdue node; on track otherwise."""
    if deviation_breached:
        return Health.OFF_TRACK
    if overdue_count or at_risk_count:
        return Health.AT_RISK
    return Health.ON_TRACK


def project_rows(*, projects: QuerySet[Project], now: datetime | None = None) -> list[ProjectRow]:
    """The projects list with counts, D-day countdown and health: six queries for any number
    of projects (projects, counts, at-risk, three for this week's deviation)."""
    now = now or timezone.now()
    projects = list(projects.select_related("owner"))
    ids = [p.pk for p in projects]
    nodes = Milestone.objects.filter(project_id__in=ids)
    counts = {
        row["project_id"]: row
        for row in nodes.values("project_id")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=open_condition()),
            overdue=Count("id", filter=overdue_condition(now)),
        )
        .order_by()
    }
    at_risk_by_project = dict(
        nodes.at_risk(now)
        .values("project_id")
        .annotate(n=Count("id"))
        .values_list("project_id", "n")
        .order_by()
    )
    week = (
        deviation_report(
            period=week_period(now), as_of=now, worst_slips=0, working_days=False, context=False
        )
        if ids
        else None
    )
    deviation = {row["id"]: row for row in (week["by_project"] if week else [])}
    today = timezone.localdate(now)
    rows = []
    for project in projects:
        count = counts.get(project.pk, {"total": 0, "open": 0, "overdue": 0})
        week_row = deviation.get(project.pk)
        rows.append(
            ProjectRow(
                project=project,
                health=project_health(
                    overdue_count=count["overdue"],
                    at_risk_count=at_risk_by_project.get(project.pk, 0),
                    deviation_breached=bool(week_row and week_row["breached"]),
                ),
                node_count=count["total"],
                open_count=count["open"],
                overdue_count=count["overdue"],
                at_risk_count=at_risk_by_project.get(project.pk, 0),
                deviation_rate=week_row["deviation_rate"] if week_row else None,
                days_to_d_day=(timezone.localdate(project.d_day) - today).days,
            )
        )
    return rows


# What a board card reads of a node (tracker/web/cards.py), its assignee and its flags, as
# plain values: `CardNode`'s fields, in order, after its primary key.
CARD_COLUMNS = (
    *("id", "department_id", "assignee_id", "title", "status", "version"),
    *("due_at", "baseline_due_at", "completed_at", "forecast_at", "is_overdue", "is_at_risk"),
    *("assignee__username", "assignee__first_name", "assignee__last_name"),
)


@dataclass(slots=True)
class CardNode:
    """A node as the board reads it: plain values from one row, no model instance (300 of
    them, and their assignees, cost about a fifth of a board). It answers what the rules it
    meets ask of a node (`can_edit_milestone`, `forecast_days_late`, `slip_days`,
    `board_lanes`) by the same names as `Milestone`."""

    pk: int
    department_id: int
    assignee_id: int | None
    title: str
    status: str
    version: int
    due_at: datetime
    baseline_due_at: datetime | None
    completed_at: datetime | None
    forecast_at: datetime | None
    is_overdue: bool
    is_at_risk: bool
    assignee_name: str
    project: Project
    dependency_count: int = 0
    forecast_days_late: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def board(
    *,
    project: Project,
    department_codes: list[str],
    assignee_username: str | None = None,
    overdue_only: bool = False,
    at_risk_only: bool = False,
    now: datetime | None = None,
    departments: list[Department] | None = None,
) -> list[BoardLane]:
    """The board page's lanes (`project_board`'s filters and lanes) of `CardNode`s: only the
    columns a card shows, no project or department row per node, no link rows (each node's
    `dependency_count` comes from one grouped query). Constant queries; `departments`, every
    department by name, when the page has read them already (for its filter)."""
    department_codes = [code for code in department_codes if code]
    rows = (
        project_nodes(
            project=project,
            department_codes=department_codes,
            assignee_username=assignee_username,
            overdue_only=overdue_only,
            at_risk_only=at_risk_only,
            now=now,
        )
        .prefetch_related(None)
        .values_list(*CARD_COLUMNS)
    )
    counts = dict(
        MilestoneDependency.objects.filter(milestone__project=project)
        .values("milestone_id")
        .annotate(n=Count("id"))
        .values_list("milestone_id", "n")
        .order_by()
    )
    names: dict[int, str] = {}  # a person's name (User.__str__), once per person
    nodes = []
    for *values, username, first_name, last_name in rows:
        assignee_id = values[2]
        name = names.get(assignee_id) if assignee_id else ""
        if name is None:
            person = User(username=username, first_name=first_name, last_name=last_name)
            name = names[assignee_id] = str(person)
        nodes.append(CardNode(*values, name, project, dependency_count=counts.get(values[0], 0)))
    return board_lanes(
        forecast_days_late(nodes),
        department_codes=department_codes,
        filtered=bool(assignee_username or overdue_only or at_risk_only),
        departments=departments,
    )


def project_assignees(*, project: Project) -> list[User]:
    """People who hold a node in the project, for the board's assignee filter."""
    return list(
        User.objects.filter(assigned_milestones__project=project).distinct().order_by("username")
    )


def assignee_choices(*, milestone: Milestone | None, department: Department) -> QuerySet[User]:
    """Who a node can be given to: the department's members and lead, plus its current
    assignee (so an edit never drops them silently)."""
    query = Q(departments=department) | Q(led_departments=department)
    if milestone is not None and milestone.assignee_id:
        query |= Q(pk=milestone.assignee_id)
    return User.objects.filter(query, is_active=True).distinct().order_by("username")


def bulk_assignee_choices(*, project: Project) -> QuerySet[User]:
    """Who the list's bulk change can assign nodes to: the members and leads of the
    project's departments (the service still checks each node's department)."""
    departments = Milestone.objects.filter(project=project).values("department_id")
    return (
        User.objects.filter(
            Q(departments__in=departments) | Q(led_departments__in=departments), is_active=True
        )
        .distinct()
        .order_by("first_name", "username")
    )


def node_detail(*, milestone_id: int, user: User, now: datetime | None = None) -> Milestone:
    """One node `user` reads, with its dependencies both ways, its alerts, its history and its
    comments."""
    now = now or timezone.now()
    node = (
        milestone_queryset()
        .visible_to(user, include_archived=True)
        .prefetch_related(
            Prefetch(
                "depends_on",
                queryset=Milestone.objects.select_related("department", "assignee").order_by(
                    "due_at", "id"
                ),
            ),
            Prefetch(
                "dependents",
                queryset=Milestone.objects.select_related("department", "assignee").order_by(
                    "due_at", "id"
                ),
            ),
            Prefetch("changes", queryset=MilestoneChange.objects.select_related("actor")),
            Prefetch("alerts", queryset=Alert.objects.order_by("-created_at", "-id")),
            Prefetch("comments", queryset=comment_thread()),
        )
        .get(pk=milestone_id)
    )
    annotate_flags([node, *node.depends_on.all(), *node.dependents.all()], now=now)
    leads = {link.depends_on_id: link.min_lead_days for link in node.upstream_links.all()}
    for upstream in node.depends_on.all():
        upstream.min_lead_days = leads.get(upstream.pk)
    forecast_days_late([node])
    return node


def comment_thread() -> QuerySet[Comment]:
    """A node's thread as shown: oldest first, with each author's name."""
    return Comment.objects.shown().select_related("author").order_by("created_at", "id")


def dependency_choices(*, milestone: Milestone) -> QuerySet[Milestone]:
    """The nodes `milestone` may be made to wait on: the rest of its project, by due date
    (the service refuses a choice that would close a cycle, naming it)."""
    return (
        Milestone.objects.filter(project_id=milestone.project_id)
        .exclude(pk=milestone.pk)
        .select_related("department")
        .only("id", "title", "due_at", "department__name")
        .order_by("due_at", "id")
    )


def request_inbox_unread(request: HttpRequest) -> int:
    """The signed-in person's unread inbox count, counted once per request (the bell on every
    page and the inbox page share it); 0 for a visitor."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    if not hasattr(request, "_inbox_unread"):
        request._inbox_unread = inbox_unread_count(user=user)
    return request._inbox_unread
