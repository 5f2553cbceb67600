"""Reads of nodes: lists, boards, dependency graphs and the at-risk rule, in constant queries."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from tracker.accounts.models import Department
from tracker.milestones.models import (
    DeviationReason,
    Milestone,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.workcal.calendar import WarRoom, WorkingCalendar


class ProjectRef(Protocol):
    """What node reads and writes need of a project. `projects` sits above `milestones`, so a
    project is passed in, never imported."""

    pk: int
    baselined_at: datetime | None
    war_room_window: WarRoom | None


def milestone_queryset() -> QuerySet[Milestone]:
    """Nodes with everything a list or board shows, loaded for the whole page at once."""
    return Milestone.objects.select_related("project", "department", "assignee").prefetch_related(
        Prefetch(
            "upstream_links",
            queryset=MilestoneDependency.objects.only(
                "id", "milestone_id", "depends_on_id", "min_lead_days"
            ),
        )
    )


def dependency_edges(*, project_ids: Iterable[int]) -> list[tuple[int, int]]:
    """(milestone, depends_on) pairs of the given projects, in one query."""
    return list(
        MilestoneDependency.objects.filter(milestone__project_id__in=list(project_ids)).values_list(
            "milestone_id", "depends_on_id"
        )
    )


def find_cycle(edges: Iterable[tuple[int, int]], *, start: int) -> list[int] | None:
    """A dependency cycle through `start` as a path [start, …, start], or None."""
    upstream: dict[int, list[int]] = defaultdict(list)
    for node, depends_on in edges:
        upstream[node].append(depends_on)
    parents: dict[int, int] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for nxt in upstream[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [*reversed(path), start]
            if nxt not in seen:
                seen.add(nxt)
                parents[nxt] = node
                queue.append(nxt)
    return None


def at_risk_ids(*, project_ids: Iterable[int], now: datetime | None = None) -> set[int]:
    """The at-risk nodes of these projects (`MilestoneQuerySet.at_risk`), in one query."""
    project_ids = list(set(project_ids))
    if not project_ids:
        return set()
    return set(
        Milestone.objects.filter(project_id__in=project_ids)
        .at_risk(now or timezone.now())
        .values_list("id", flat=True)
    )


def annotate_flags(milestones: list[Milestone], *, now: datetime | None = None) -> list[Milestone]:
    """Set `is_overdue` and `is_at_risk` on already-loaded nodes, from the queryset's rules
    (`MilestoneQuerySet.with_flags`), in one query for all of them."""
    if not milestones:
        return milestones
    flags = {
        pk: (overdue, at_risk)
        for pk, overdue, at_risk in Milestone.objects.filter(pk__in={m.pk for m in milestones})
        .with_flags(now or timezone.now())
        .order_by()
        .values_list("pk", "is_overdue", "is_at_risk")
    }
    for milestone in milestones:
        milestone.is_overdue, milestone.is_at_risk = flags.get(milestone.pk, (False, False))
    return milestones


def forecast_days_late(milestones: list[Milestone]) -> list[Milestone]:
    """Set `forecast_days_late` on loaded nodes: the working days their persisted forecast
    passes their due date (0 when it does not), for "at risk: forecast 3 days late"."""
    calendar = WorkingCalendar()
    for milestone in milestones:
        milestone.forecast_days_late = 0
        if milestone.is_open and milestone.forecast_at and milestone.forecast_at > milestone.due_at:
            due = timezone.localtime(milestone.due_at).date()
            forecast = timezone.localtime(milestone.forecast_at).date()
            milestone.forecast_days_late = max(1, calendar.working_days_between(due, forecast))
    return milestones


@dataclass
class BoardLane:
    department: Department
    columns: dict[str, list[Milestone]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(nodes) for nodes in self.columns.values())


def board_stamp(*, project_id: int) -> str:
    """A value that changes whenever a node of the project is added, deleted or written (every
    write bumps a node's `version`), read in one aggregate over the project's nodes: the
    board polls it and reloads its cards only when it moves."""
    stamp = Milestone.objects.filter(project_id=project_id).aggregate(
        count=Count("id"), versions=Sum("version"), latest=Max("updated_at")
    )
    latest = stamp["latest"].timestamp() if stamp["latest"] else 0
    return f"{stamp['count']}-{stamp['versions'] or 0}-{latest:.6f}"


# The orders the node list can be sorted by (a column name, "-" first for descending).
NODE_LIST_ORDERS = {
    "due_at": ("due_at", "id"),
    "title": ("title", "id"),
    "department": ("department__name", "due_at", "id"),
    "assignee": ("assignee__first_name", "assignee__username", "due_at", "id"),
    "status": ("status", "due_at", "id"),
}


def project_nodes(
    *,
    project: ProjectRef,
    department_codes: Iterable[str] = (),
    assignee_username: str | None = None,
    overdue_only: bool = False,
    at_risk_only: bool = False,
    order: str = "",
    now: datetime | None = None,
) -> QuerySet[Milestone]:
    """A project's nodes under the board's filters, with their flags; in board order, or by
    `order` (a key of NODE_LIST_ORDERS, "-" first for descending)."""
    now = now or timezone.now()
    descending = order.startswith("-")
    fields = NODE_LIST_ORDERS.get(order.removeprefix("-"), ("position", "due_at", "id"))
    queryset = milestone_queryset().filter(project=project)
    queryset = queryset.order_by(*(f"-{f}" if descending else f for f in fields))
    department_codes = [code for code in department_codes if code]
    if department_codes:
        queryset = queryset.filter(department__code__in=department_codes)
    if assignee_username:
        queryset = queryset.filter(assignee__username=assignee_username)
    if overdue_only:
        queryset = queryset.overdue(now)
    if at_risk_only:
        queryset = queryset.at_risk(now)
    return queryset.with_flags(now)


def project_board(
    *,
    project: ProjectRef,
    department_codes: Iterable[str] = (),
    assignee_username: str | None = None,
    overdue_only: bool = False,
    at_risk_only: bool = False,
    now: datetime | None = None,
) -> list[BoardLane]:
    """The board: one lane per department that has nodes (or every department, unfiltered),
    one column per status, cards in board order."""
    department_codes = [code for code in department_codes if code]
    nodes = forecast_days_late(
        list(
            project_nodes(
                project=project,
                department_codes=department_codes,
                assignee_username=assignee_username,
                overdue_only=overdue_only,
                at_risk_only=at_risk_only,
                now=now,
            )
        )
    )
    return board_lanes(
        nodes,
        department_codes=department_codes,
        filtered=bool(assignee_username or overdue_only or at_risk_only),
    )


def board_lanes(
    nodes: Iterable[Milestone],
    *,
    department_codes: list[str],
    filtered: bool,
    departments: list[Department] | None = None,
) -> list[BoardLane]:
    """Loaded nodes in lanes (departments by name; only the named ones, when given) and
    status columns, in the order given; a filtered board leaves out its empty lanes.
    `departments`: every department by name, when the caller has read them already."""
    if departments is None:
        departments = Department.objects.order_by("name")
        if department_codes:
            departments = departments.filter(code__in=department_codes)
    elif department_codes:
        departments = [d for d in departments if d.code in department_codes]
    lanes = {
        department.pk: BoardLane(
            department=department, columns={status: [] for status in MilestoneStatus.values}
        )
        for department in departments
    }
    for node in nodes:
        lanes[node.department_id].columns[node.status].append(node)
    return [lane for lane in lanes.values() if lane.count or not filtered]


def due_date_warnings(*, due_at: datetime, project: ProjectRef) -> list[str]:
    """What to tell someone who sets this due date: a non-working day is allowed, but said
    (a project's war-room days are working days)."""
    day = timezone.localtime(due_at).date()
    calendar = WorkingCalendar()
    if calendar.is_working_day(day, project.war_room_window):
        return []
    info = calendar.day(day)
    return [
        _("%(date)s is not a working day (%(name)s).")
        % {"date": day.isoformat(), "name": info.name or WEEKDAYS[day.weekday()]}
    ]


def deviation_reason_find(text: str) -> DeviationReason | None:
    """The active reason a person named in a command: its code, or the start of its name in
    English or Simplified Chinese ("supplier", "供应商"), case-insensitive; None if none or
    several match."""
    word = (text or "").strip().lower()
    if not word:
        return None
    reasons = list(DeviationReason.objects.active())
    exact = [r for r in reasons if r.code == word]
    if exact:
        return exact[0]
    matches = [
        r for r in reasons if r.name_en.lower().startswith(word) or r.name_zh_hans.startswith(word)
    ]
    return matches[0] if len(matches) == 1 else None
