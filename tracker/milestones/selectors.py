"""Reads of nodes: lists, boards, dependency graphs and the at-risk rule, in constant queries."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from tracker.accounts.models import Department
from tracker.milestones.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneDependency,
    MilestoneStatus,
)


class ProjectRef(Protocol):
    """What node reads and writes need of a project. `projects` sits above `milestones`, so a
    project is passed in, never imported."""

    pk: int
    baselined_at: datetime | None


def milestone_queryset() -> QuerySet[Milestone]:
    """Nodes with everything a list or board shows, loaded for the whole page at once."""
    return Milestone.objects.select_related("project", "department", "assignee").prefetch_related(
        Prefetch(
            "upstream_links",
            queryset=MilestoneDependency.objects.only("id", "milestone_id", "depends_on_id"),
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
    """Open nodes with an overdue node anywhere upstream, in two queries for any number of nodes."""
    project_ids = list(set(project_ids))
    if not project_ids:
        return set()
    now = now or timezone.now()
    overdue = set(
        Milestone.objects.filter(project_id__in=project_ids)
        .overdue(now)
        .values_list("id", flat=True)
    )
    if not overdue:
        return set()
    downstream: dict[int, list[int]] = defaultdict(list)
    open_ids = set()
    for node, depends_on, status in MilestoneDependency.objects.filter(
        milestone__project_id__in=project_ids
    ).values_list("milestone_id", "depends_on_id", "milestone__status"):
        downstream[depends_on].append(node)
        if status in OPEN_STATUSES:
            open_ids.add(node)
    at_risk: set[int] = set()
    queue = deque(overdue)
    while queue:
        for nxt in downstream[queue.popleft()]:
            if nxt not in at_risk:
                at_risk.add(nxt)
                queue.append(nxt)
    return at_risk & open_ids


def annotate_flags(milestones: list[Milestone], *, now: datetime | None = None) -> list[Milestone]:
    """Set `is_overdue` and `is_at_risk` on already-loaded nodes (two queries in all)."""
    now = now or timezone.now()
    risky = at_risk_ids(project_ids={m.project_id for m in milestones}, now=now)
    for milestone in milestones:
        milestone.is_overdue = milestone.status in OPEN_STATUSES and milestone.due_at < now
        milestone.is_at_risk = milestone.pk in risky
    return milestones


@dataclass
class BoardLane:
    department: Department
    columns: dict[str, list[Milestone]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(nodes) for nodes in self.columns.values())


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
    now = now or timezone.now()
    queryset = milestone_queryset().filter(project=project).order_by("position", "due_at", "id")
    department_codes = [code for code in department_codes if code]
    if department_codes:
        queryset = queryset.filter(department__code__in=department_codes)
    if assignee_username:
        queryset = queryset.filter(assignee__username=assignee_username)
    if overdue_only:
        queryset = queryset.overdue(now)
    nodes = annotate_flags(list(queryset), now=now)
    if at_risk_only:
        nodes = [node for node in nodes if node.is_at_risk]
    departments = Department.objects.order_by("name")
    if department_codes:
        departments = departments.filter(code__in=department_codes)
    lanes = {
        department.pk: BoardLane(
            department=department, columns={status: [] for status in MilestoneStatus.values}
        )
        for department in departments
    }
    for node in nodes:
        lanes[node.department_id].columns[node.status].append(node)
    filtered = bool(assignee_username or overdue_only or at_risk_only)
    return [lane for lane in lanes.values() if lane.count or not filtered]
