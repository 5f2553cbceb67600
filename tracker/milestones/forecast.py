"""Slip attribution, the forecast, float and the critical path of one project (docs/forecast.md).

Pure functions over `Node`s, the project's nodes as plain values, loaded in one query (and its
links in one more) by `project_nodes`; `forecasts_refresh` persists what the board, My work,
the API flag and `MilestoneQuerySet.at_risk()` read. Everything is in working days of the
working calendar (`WorkingDays`, the project's war-room days count as worked), on the local
dates of `TIME_ZONE`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from tracker.milestones.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneDependency,
    MilestoneStatus,
    ProjectForecast,
    overdue_condition,
)
from tracker.workcal.calendar import WorkingCalendar

ONE_DAY = timedelta(days=1)
# Days of calendar the arithmetic reads beyond a project's dates before it falls back to the
# calendar's own (slower) arithmetic.
MARGIN_DAYS = 120
WRITE_CHUNK = 1000  # nodes per UPDATE of their forecasts


def local_day(moment: datetime) -> date:
    """The date of `moment` in `TIME_ZONE` (not the request's zone: one calendar for all)."""
    return moment.astimezone(timezone.get_default_timezone()).date()


def local_time(moment: datetime) -> time:
    return moment.astimezone(timezone.get_default_timezone()).timetz()


@dataclass
class Node:
    """What attribution and the forecast need of a node."""

    id: int
    department_id: int
    status: str
    due_at: datetime
    planned_at: datetime  # the baseline due once baselined, else the due date (`PLANNED_DUE`)
    completed_at: datetime | None = None
    upstream: tuple[tuple[int, int | None], ...] = ()  # (upstream id, declared lead or None)

    @cached_property
    def planned_day(self) -> date:
        return local_day(self.planned_at)

    @cached_property
    def due_day(self) -> date:
        return local_day(self.due_at)

    @property
    def cancelled(self) -> bool:
        return self.status == MilestoneStatus.CANCELLED

    @property
    def done(self) -> bool:
        return self.status == MilestoneStatus.DONE


class WorkingDays:
    """Working-day arithmetic over a span of dates, each day asked of the calendar once."""

    def __init__(self, is_working: Callable[[date], bool], first: date, last: date) -> None:
        self._is_working = is_working
        self.first, self.last = first, last
        self._start, self._end = first.toordinal(), last.toordinal()
        self._count: list[int] = [0]  # working days in (first, first + i]
        self._working: list[int] = []  # offsets of the working days after `first`
        self._dates: list[date] = []  # those days
        for offset in range(1, self._end - self._start + 1):
            day = first + ONE_DAY * offset
            working = is_working(day)
            self._count.append(self._count[-1] + working)
            if working:
                self._working.append(offset)
                self._dates.append(day)

    def between(self, start: date, end: date) -> int:
        """Working days in (start, end], negative when end is before start."""
        a, b = start.toordinal(), end.toordinal()
        if self._start <= a <= self._end and self._start <= b <= self._end:
            return self._count[b - self._start] - self._count[a - self._start]
        if b < a:
            return -self.between(end, start)
        return sum(self._is_working(start + ONE_DAY * n) for n in range(1, b - a + 1))

    def add(self, day: date, count: int) -> date:
        """`count` working days after `day` (before it, when negative); zero is `day` itself."""
        if count == 0:
            return day
        offset = day.toordinal() - self._start
        if 0 <= offset <= self._end - self._start:
            if count > 0:
                index = self._count[offset] + count - 1
                if index < len(self._dates):
                    return self._dates[index]
            else:
                index = bisect.bisect_left(self._working, offset) + count
                if index >= 0:
                    return self._dates[index]
        step = ONE_DAY if count > 0 else -ONE_DAY
        remaining = abs(count)
        while remaining:
            day += step
            remaining -= self._is_working(day)
        return day

    @classmethod
    def for_nodes(
        cls,
        nodes: Iterable[Node],
        *,
        now: datetime,
        extra: Iterable[datetime] = (),
        calendar: WorkingCalendar | None = None,
        war_room=None,
    ) -> WorkingDays:
        """The span of these nodes' dates, now and `extra`, with a margin either side."""
        calendar = calendar or WorkingCalendar()
        days = [local_day(now), *(local_day(moment) for moment in extra)]
        for node in nodes:
            days += [node.due_day, node.planned_day]
            if node.completed_at is not None:
                days.append(local_day(node.completed_at))
        margin = ONE_DAY * MARGIN_DAYS
        return cls(
            lambda day: calendar.is_working_day(day, war_room),
            min(days) - margin,
            max(days) + margin,
        )


def topological(nodes: Mapping[int, Node]) -> list[int]:
    """Node ids, every upstream before its downstream (links to unknown nodes and, should one
    exist, a cycle's links are left out: the services never write one)."""
    indegree = {pk: 0 for pk in nodes}
    downstream: dict[int, list[int]] = defaultdict(list)
    for node in nodes.values():
        for upstream, _lead in node.upstream:
            if upstream in nodes:
                indegree[node.id] += 1
                downstream[upstream].append(node.id)
    ready = sorted(pk for pk, count in indegree.items() if not count)
    order: list[int] = []
    while ready:
        pk = ready.pop()
        order.append(pk)
        for nxt in downstream[pk]:
            indegree[nxt] -= 1
            if not indegree[nxt]:
                ready.append(nxt)
    if len(order) < len(nodes):
        seen = set(order)
        order += sorted(pk for pk in nodes if pk not in seen)
    return order


def link_lead(days: WorkingDays, upstream: Node, node: Node, declared: int | None) -> int:
    """The lead from `upstream` to `node`: the declared minimum lead when set, else the whole
    planned gap max(0, planned(node) − planned(upstream))."""
    if declared is not None:
        return declared
    return max(0, days.between(upstream.planned_day, node.planned_day))


def _links(nodes: Mapping[int, Node], node: Node) -> list[tuple[Node, int | None]]:
    """The node's upstream links that count: cancelled upstreams pass nothing on."""
    return [
        (nodes[pk], declared)
        for pk, declared in node.upstream
        if pk in nodes and not nodes[pk].cancelled
    ]


# Slip attribution -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    """One node's slip split into what reached it from upstream and its own, in working days."""

    slip: int = 0
    inherited: int = 0
    own: int = 0
    caused_downstream: int = 0  # days it charged to downstream nodes (each day once per node)
    caused_other_departments: int = 0  # of those, in nodes of other departments
    inherited_from: int | None = None  # the upstream whose delay it inherited


def _finish(node: Node, now: datetime) -> datetime | None:
    if node.cancelled:
        return None
    return node.completed_at if node.done else now


def _tail(segments: list[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """The last `count` days of an ordered list of (origin, days)."""
    taken: list[tuple[int, int]] = []
    for origin, length in reversed(segments):
        if count <= 0:
            break
        part = min(length, count)
        taken.append((origin, part))
        count -= part
    return list(reversed(taken))


def attribute(
    nodes: Mapping[int, Node], *, now: datetime, days: WorkingDays
) -> dict[int, Attribution]:
    """Slip, inherited, own and caused-downstream days of every node but cancelled ones.

    A node's slip is an ordered list of its origins' days: what it inherited (the last days of
    its worst upstream's slip, those the link's slack did not absorb) then its own. Its
    inherited days are charged to those origins, so a chain charges each day once, to the node
    whose own delay produced it.
    """
    slip: dict[int, int] = {}
    finished: dict[int, date] = {}
    inherited: dict[int, int] = {}
    source: dict[int, int | None] = {}
    made_of: dict[int, list[tuple[int, int]]] = {}
    caused: dict[int, int] = defaultdict(int)
    caused_elsewhere: dict[int, int] = defaultdict(int)
    for pk in topological(nodes):
        node = nodes[pk]
        finish = _finish(node, now)
        if finish is None:
            continue
        planned = node.planned_day
        finished[pk] = local_day(finish)
        slip[pk] = max(0, days.between(planned, finished[pk]))
        worst, worst_delay = None, 0
        for upstream, declared in _links(nodes, node):
            lead = link_lead(days, upstream, node, declared)
            reached = lead - days.between(finished[upstream.id], planned)
            key = (-reached, upstream.planned_at, upstream.id)  # ties: the earliest planned
            if reached > 0 and (worst is None or key < worst[0]):
                worst, worst_delay = (key, upstream.id), reached
        got = min(slip[pk], worst_delay)
        inherited[pk], source[pk] = got, (worst[1] if worst and got else None)
        made_of[pk] = _tail(made_of.get(source[pk], []), got) if source[pk] is not None else []
        for origin, length in made_of[pk]:
            caused[origin] += length
            if nodes[origin].department_id != node.department_id:
                caused_elsewhere[origin] += length
        own = slip[pk] - got
        if own:
            made_of[pk] = [*made_of[pk], (pk, own)]
    return {
        pk: Attribution(
            slip=slip[pk],
            inherited=inherited[pk],
            own=slip[pk] - inherited[pk],
            caused_downstream=caused[pk],
            caused_other_departments=caused_elsewhere[pk],
            inherited_from=source[pk],
        )
        for pk in slip
    }


@dataclass
class SlipTotals:
    """Attribution summed over a department or a project."""

    nodes_late: int = 0
    own_days: int = 0
    inherited_days: int = 0
    caused_downstream_other_departments: int = 0

    def add(self, attribution: Attribution) -> None:
        self.nodes_late += attribution.slip > 0
        self.own_days += attribution.own
        self.inherited_days += attribution.inherited
        self.caused_downstream_other_departments += attribution.caused_other_departments


@dataclass
class SlipAttribution:
    project: SlipTotals = field(default_factory=SlipTotals)
    departments: dict[int, SlipTotals] = field(default_factory=dict)
    nodes: dict[int, Attribution] = field(default_factory=dict)


def summarize(
    nodes: Mapping[int, Node], attributions: Mapping[int, Attribution]
) -> SlipAttribution:
    result = SlipAttribution(nodes=dict(attributions))
    for pk, attribution in attributions.items():
        result.project.add(attribution)
        department = nodes[pk].department_id
        result.departments.setdefault(department, SlipTotals()).add(attribution)
    return result


# Forecast, float and critical path ------------------------------------------------------------


@dataclass(frozen=True)
class NodeForecast:
    forecast_at: datetime
    float_days: int
    on_critical_path: bool = False
    days_late: int = 0  # working days the forecast passes the due date


@dataclass
class ProjectSchedule:
    nodes: dict[int, NodeForecast]
    critical_path: list[int]  # upstream first, ending at the node nearest the D-day
    d_day_float_days: int | None  # the critical path's float: negative, the D-day is threatened


def forecast(
    nodes: Mapping[int, Node], *, now: datetime, d_day: datetime, days: WorkingDays
) -> ProjectSchedule:
    """One pass forward (forecast), one back (latest finish, float), then the critical path.

    forecast(n) = completion if done; else max(due(n), now if overdue, max over upstream u of
    forecast(u) + lead(u→n)). The latest finish of a node is the earliest, over its downstream
    m, of min(due(m), latest(m)) − lead(n→m), and for a node without downstream the D-day (or
    its own due date, when that is later); float = latest − forecast in working days.
    """
    order = topological(nodes)
    at: dict[int, datetime] = {}
    day: dict[int, date] = {}
    downstream: dict[int, list[tuple[int, int]]] = defaultdict(list)
    driver: dict[int, dict[int, date]] = {}
    for pk in order:
        node = nodes[pk]
        if node.cancelled:
            continue
        candidates: dict[int, date] = {}
        for upstream, declared in _links(nodes, node):
            if upstream.id not in day:  # only in a cycle, which the services never write
                continue
            lead = link_lead(days, upstream, node, declared)
            downstream[upstream.id].append((pk, lead))
            candidates[upstream.id] = days.add(day[upstream.id], lead)
        driver[pk] = candidates
        if node.done:
            moment = node.completed_at
        else:
            moment = max(node.due_at, now)
            pushed = max(candidates.values(), default=None)
            if pushed is not None and pushed > local_day(moment):
                moment = datetime.combine(pushed, local_time(node.due_at))
        at[pk], day[pk] = moment, local_day(moment)

    d_day_local = local_day(d_day)
    latest: dict[int, date] = {}
    for pk in reversed(order):
        if pk not in at:
            continue
        links = downstream.get(pk)
        if not links:
            latest[pk] = max(d_day_local, nodes[pk].due_day)
            continue
        latest[pk] = min(days.add(min(nodes[m].due_day, latest[m]), -lead) for m, lead in links)
    floats = {pk: days.between(day[pk], latest[pk]) for pk in at}

    path: list[int] = []
    sinks = [pk for pk in at if not downstream.get(pk)]
    if sinks:
        current = min(sinks, key=lambda pk: (floats[pk], -at[pk].timestamp(), pk))
        while current is not None:
            path.append(current)
            ups = driver[current]
            current = min(ups, key=lambda u: (floats[u], -ups[u].toordinal(), u)) if ups else None
        path.reverse()
    on_path = set(path)
    schedule = {}
    for pk, moment in at.items():
        due = nodes[pk].due_at
        late = days.between(nodes[pk].due_day, day[pk]) if moment > due else 0
        schedule[pk] = NodeForecast(
            forecast_at=moment,
            float_days=floats[pk],
            on_critical_path=pk in on_path,
            days_late=max(late, 1) if moment > due and nodes[pk].status in OPEN_STATUSES else late,
        )
    return ProjectSchedule(
        nodes=schedule,
        critical_path=path,
        d_day_float_days=floats[path[-1]] if path else None,
    )


# Loading and persisting -----------------------------------------------------------------------


NODE_FIELDS = (
    "id",
    "department_id",
    "status",
    "due_at",
    "baseline_due_at",
    "completed_at",
    "forecast_at",
    "float_days",
    "on_critical_path",
)


def projects_nodes(
    *, project_ids: Iterable[int], persisted: bool = True
) -> tuple[dict[int, dict[int, Node]], dict[int, tuple]]:
    """The nodes of these projects as `Node`s, by project (one query for the nodes, one for
    their links, however many projects), and the forecast columns each node has now, to write
    only what changed (without `persisted`, for a reader that writes nothing, they are not
    read: an empty tuple each)."""
    project_ids = list(project_ids)
    links: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for node_id, upstream_id, lead in (
        MilestoneDependency.objects.filter(milestone__project_id__in=project_ids)
        .order_by("depends_on_id")
        .values_list("milestone_id", "depends_on_id", "min_lead_days")
    ):
        links[node_id].append((upstream_id, lead))
    by_project: dict[int, dict[int, Node]] = {pk: {} for pk in project_ids}
    stored = {}
    fields = NODE_FIELDS[1:] if persisted else NODE_FIELDS[1:6]
    for pk, project_id, department, status, due, baseline, completed, *columns in (
        Milestone.objects.filter(project_id__in=project_ids)
        .order_by()
        .values_list("id", "project_id", *fields)
    ):
        by_project[project_id][pk] = Node(
            id=pk,
            department_id=department,
            status=status,
            due_at=due,
            planned_at=baseline or due,
            completed_at=completed,
            upstream=tuple(links.get(pk, ())),
        )
        stored[pk] = tuple(columns)
    return by_project, stored


def _schedule(project, nodes: Mapping[int, Node], *, now: datetime, calendar) -> ProjectSchedule:
    days = WorkingDays.for_nodes(
        nodes.values(),
        now=now,
        extra=[project.d_day],
        calendar=calendar,
        war_room=project.war_room_window,
    )
    return forecast(nodes, now=now, d_day=project.d_day, days=days)


def project_schedule(*, project, now: datetime | None = None) -> ProjectSchedule:
    """The project's forecast as of `now`, computed afresh (the forecast API reads this)."""
    now = now or timezone.now()
    by_project, _stored = projects_nodes(project_ids=[project.pk])
    return _schedule(project, by_project[project.pk], now=now, calendar=WorkingCalendar())


def project_slip_attribution(*, project, now: datetime | None = None) -> SlipAttribution:
    """Who really slipped in this project: per node, per department and for the project (the
    monthly analysis reads this)."""
    now = now or timezone.now()
    nodes = projects_nodes(project_ids=[project.pk])[0][project.pk]
    days = WorkingDays.for_nodes(nodes.values(), now=now, war_room=project.war_room_window)
    return summarize(nodes, attribute(nodes, now=now, days=days))


def slip_attribution(*, projects: Iterable, now: datetime | None = None) -> SlipAttribution:
    """Attribution over several projects at once (e.g. a month's campaigns): per node, per
    department across them, and in total; the nodes in two queries, whatever the count.

    The projects that count the same days as worked (no war room, or the same war room) share
    one table of working days over all their dates: `WorkingDays` gives the same answers over
    any span (outside its table it asks the calendar day by day), so a month's campaigns ask
    the calendar about each day once, not once per project."""
    now = now or timezone.now()
    projects = list(projects)
    by_project, _stored = projects_nodes(project_ids=[p.pk for p in projects], persisted=False)
    calendar = WorkingCalendar()
    windows = {project.pk: project.war_room_window for project in projects}
    spans: dict = defaultdict(list)
    for project in projects:
        spans[windows[project.pk]].extend(by_project[project.pk].values())
    tables = {
        window: WorkingDays.for_nodes(nodes, now=now, calendar=calendar, war_room=window)
        for window, nodes in spans.items()
    }
    every_node: dict[int, Node] = {}
    attributions: dict[int, Attribution] = {}
    for project in projects:
        nodes = by_project[project.pk]
        every_node.update(nodes)
        attributions.update(attribute(nodes, now=now, days=tables[windows[project.pk]]))
    return summarize(every_node, attributions)


def _write_forecasts(rows: list[tuple[int, datetime | None, int | None, bool]]) -> None:
    """Set the forecast columns of these nodes: on PostgreSQL one UPDATE … FROM (VALUES …) per
    thousand nodes, elsewhere `bulk_update`. Never `updated_at`: a refresh is not a change."""
    if connection.vendor != "postgresql":
        Milestone.objects.bulk_update(
            [
                Milestone(pk=pk, forecast_at=at, float_days=slack, on_critical_path=critical)
                for pk, at, slack, critical in rows
            ],
            ["forecast_at", "float_days", "on_critical_path"],
            batch_size=500,
        )
        return
    m = Milestone._meta
    quote = connection.ops.quote_name
    columns = {f: quote(m.get_field(f).column) for f in ("forecast_at", "float_days")}
    critical = quote(m.get_field("on_critical_path").column)
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[start : start + WRITE_CHUNK]
        values = ", ".join(["(%s::bigint, %s::timestamptz, %s::integer, %s::boolean)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(m.db_table)} AS m SET {columns['forecast_at']} = v.forecast_at,"
                f" {columns['float_days']} = v.float_days, {critical} = v.critical"
                f" FROM (VALUES {values}) AS v (id, forecast_at, float_days, critical)"
                f" WHERE m.{quote(m.pk.column)} = v.id",
                [value for row in chunk for value in row],
            )


@transaction.atomic(savepoint=False)
def projects_forecast_refresh(*, projects: Iterable, now: datetime) -> dict[int, ProjectSchedule]:
    """Compute these projects' forecasts and persist them: the forecast columns of the nodes
    whose values changed, and each project's `ProjectForecast`. A constant number of queries
    for any number of projects (plus one per year of calendar read and per thousand nodes
    written)."""
    projects = list(projects)
    if not projects:
        return {}
    by_project, stored = projects_nodes(project_ids=[p.pk for p in projects])
    calendar = WorkingCalendar()
    schedules, changed = {}, []
    for project in projects:
        schedule = _schedule(project, by_project[project.pk], now=now, calendar=calendar)
        schedules[project.pk] = schedule
        for pk in by_project[project.pk]:
            found = schedule.nodes.get(pk)
            after = (
                (found.forecast_at, found.float_days, found.on_critical_path)
                if found
                else (None, None, False)
            )
            if after != stored[pk]:
                changed.append((pk, *after))
    if changed:
        _write_forecasts(changed)
    ProjectForecast.objects.bulk_create(
        [
            ProjectForecast(
                project_id=pk,
                computed_at=now,
                critical_path=schedule.critical_path,
                d_day_float_days=schedule.d_day_float_days,
            )
            for pk, schedule in schedules.items()
        ],
        update_conflicts=True,
        unique_fields=["project"],
        update_fields=["computed_at", "critical_path", "d_day_float_days"],
    )
    return schedules


def project_forecast_refresh(*, project, now: datetime | None = None) -> ProjectSchedule:
    """One project's `projects_forecast_refresh`."""
    now = now or timezone.now()
    return projects_forecast_refresh(projects=[project], now=now)[project.pk]


def stale_forecasts(
    projects: QuerySet, *, now: datetime, since: datetime | None = None
) -> QuerySet:
    """Of `projects`, those whose forecast must be recomputed: never computed, the project or
    a node changed since, or an open overdue node (its forecast moves with the clock).

    `since` is the previous refresh's `now` (the scan's watermark): what it left fresh stays
    fresh until a node (written since its project's forecast: the nodes written since `since`
    are the range read) or the project changes, or a node goes overdue, and an overdue node moves
    its project's forecast only once a day. Everything but the overdue node's own forecast_at
    (`now`, as of the last refresh) is counted in local working days, so the first refresh of a
    local day recomputes the projects with an open overdue node, and the later ones leave them.
    That reads ranges of indexes (nodes written or gone overdue since), not every project's
    nodes."""
    if since is None:
        computed = ProjectForecast.objects.filter(project=OuterRef("pk"))
        changed_node = Milestone.objects.filter(
            project=OuterRef("project"), updated_at__gt=OuterRef("computed_at")
        )
        overdue = Milestone.objects.filter(overdue_condition(now), project=OuterRef("pk"))
        fresh = computed.filter(computed_at__gte=OuterRef("updated_at")).exclude(
            Exists(changed_node)
        )
        return projects.filter(~Exists(fresh) | Exists(overdue))
    fresh = ProjectForecast.objects.filter(computed_at__gte=F("project__updated_at"))
    changed = (
        Milestone.objects.changed_since(since)
        .filter(updated_at__gt=F("project__forecast__computed_at"))
        .values("project_id")
    )
    went_overdue = Milestone.objects.open().filter(due_at__gte=since, due_at__lt=now)
    stale = (  # each an uncorrelated subquery: hashed once, not probed once per project
        ~Q(pk__in=fresh.values("project_id"))
        | Q(pk__in=changed)
        | Q(pk__in=went_overdue.values("project_id"))
    )
    if local_day(since) != local_day(now):
        stale |= Q(pk__in=Milestone.objects.filter(overdue_condition(now)).values("project_id"))
    return projects.filter(stale)


def forecasts_refresh(
    *, projects: QuerySet, now: datetime, since: datetime | None = None
) -> list[int]:
    """Recompute the stale forecasts of `projects` (the scan calls this, with its watermark as
    `since`: see `stale_forecasts`); returns their ids."""
    stale = stale_forecasts(projects, now=now, since=since).order_by("pk")
    return list(projects_forecast_refresh(projects=stale, now=now))


def d_day_threats() -> list[int]:
    """The last node of each critical path whose float is negative: each one's project's
    D-day is threatened."""
    return [
        path[-1]
        for path in ProjectForecast.objects.filter(d_day_float_days__lt=0).values_list(
            "critical_path", flat=True
        )
        if path
    ]
