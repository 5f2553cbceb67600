"""The node deviation rate, computed in SQL (README "Deviation rate"; docs/deviation-rate.md).

- Only baselined projects count: a planning project's movable dates are not a plan of record.
  The nodes left out for that are counted (`left_out_count`). Cancelled nodes never count;
  closed and archived projects' nodes do (`counted_in_reports`).
- A node's planned due is the baseline in force when the period ended (a later re-baseline
  does not change a closed period), for a node added after the baseline its first due date.
- The population of a period: nodes whose planned due lies in [start, end) and not after `as_of`.
- A node of the population is deviated when it is not done, or was completed after its planned
  due (done exactly at the planned due is on time).
- deviation_rate = deviated / population, None for an empty population.
- A closed period with a snapshot shows the snapshot as its figure of record, with today's
  recomputation (`live`) and the recorded changes since (`restatements`): `report_of_record`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, Q, QuerySet
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tracker.accounts.models import AuditEntry, Department, User, display_name
from tracker.milestones.models import (
    Milestone,
    MilestoneChange,
)
from tracker.projects.models import Project
from tracker.reports.analysis import monthly_analysis
from tracker.reports.models import ReportSnapshot
from tracker.reports.periods import Period, PeriodKind, week_period
from tracker.reports.population import (
    DEVIATED,
    LATE,
    OPEN,
    _aggregates,
    _completion,
    _days,
    _figures,
    _figures_of,
    _reason_names,
    _slip,
    report_population,
)
from tracker.workcal.calendar import WorkingCalendar


def default_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "DEVIATION_THRESHOLD", "0.10")))


def small_sample_size() -> int:
    """Below this many nodes a rate is marked a small sample, not shouted as breached."""
    return int(getattr(settings, "DEVIATION_SMALL_SAMPLE", 5))


def report_scope(
    *,
    project: str | int | None = None,
    department: str | None = None,
    user: User | None = None,
) -> tuple[Project | None, Department | None]:
    """A report's optional scope from what a person typed (a project id, a department code),
    for the API, the exports and the commands alike. Unknown values raise a ValidationError
    keyed by field; blank ones mean "everything". A project is looked up among those `user`
    reads (archived ones included: reports keep their history); without a user (the
    scheduled reports, an operator's command) among all."""
    errors: dict[str, str] = {}
    found_project = found_department = None
    if project not in (None, ""):
        text = str(project).strip()
        projects = (
            Project.objects.all()
            if user is None
            else Project.objects.visible_to(user, include_archived=True)
        )
        found_project = projects.filter(pk=int(text)).first() if text.isdigit() else None
        if found_project is None:
            errors["project"] = _("No project with id %(value)s.") % {"value": text}
    if department not in (None, ""):
        found_department = Department.objects.filter(code=department).first()
        if found_department is None:
            errors["department"] = _("No department with code %(value)s.") % {"value": department}
    if errors:
        raise ValidationError(errors)
    return found_project, found_department


def _working_slip_mean(
    pairs: dict[tuple[date, date], int], calendar: WorkingCalendar
) -> float | None:
    """The mean slip of the deviated nodes in working days, as a team counts it, from their
    counts per (planned day, completion day): the calendar works on a few pairs of days."""
    count = sum(pairs.values())
    total = sum(n * calendar.working_days_between(*days) for days, n in pairs.items())
    return round(total / count, 2) if count else None


def _breached(figures: dict[str, Any], threshold: Decimal) -> bool:
    """deviated / population > threshold, compared exactly (the shown rate is rounded)."""
    return figures["deviated_count"] > threshold * figures["due_count"]


def _flag(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


# The week's pass: one statement reads everything the report shows. `week` is the population
# with its flags and slip as columns (built by the ORM from LATE, OPEN, DEVIATED and _slip, so
# the rules keep their one home); the grouping set of a row is told by GROUPING(); project and
# department rows get their names (and a project its threshold) by id, joined onto the few
# grouped rows (not an IN list of thousands of ids); the worst slips are the same rows ordered
# by slip (the CTE is computed once), joined to their nodes' titles and assignees. With the
# report's context, one more row carries the nodes left out (no baseline) and the backlog, and
# a report scoped to a project one row with that project's name and threshold (it may have no
# node in the period). Ids, counts and a few names cross the wire; nothing per node but the
# worst slips.
_GROUPS = {
    "headline": "()",
    "department": "(department_id)",
    "project": "(project_id)",
    "days": "(planned_day, done_day)",
}
# One row layout for every kind of row (`_LAYOUT`; a UNION ALL matches columns by position). A
# project row's id, name, threshold and aggregates come first, taken as one slice
# (`_PROJECT_ROW`): a report has as many of them as projects. The other rows are few, and read
# by name: a department row has its id, name and code, a slip row its node's id and title, the
# context row the nodes left out (in `due`), the backlog's count (in `late`) and its oldest
# planned due (in `planned_due`), the scope row the project's id, name and threshold.
_LAYOUT = (
    "kind", "id", "name", "threshold", "due", "late", "open_overdue", "slip", "deviated", "code",
    "planned_day", "done_day", "department_id", "project_id", "status", "planned_due",
    "completed_at", "username", "first_name", "last_name",
)  # fmt: skip
_PROJECT_ROW = slice(1, 8)  # id, name, threshold, due, late, open_overdue, slip
_PASS = """
WITH week AS MATERIALIZED ({population}),
grouped AS (
    SELECT GROUPING(department_id, project_id, planned_day, done_day) AS grouping_set,
        department_id, project_id, planned_day, done_day,
        count(*) AS due, count(*) FILTER (WHERE is_late) AS late,
        count(*) FILTER (WHERE is_open) AS open_overdue,
        avg(slip) FILTER (WHERE is_deviated) AS slip,
        count(*) FILTER (WHERE is_deviated) AS deviated
    FROM week GROUP BY GROUPING SETS ({groups})
)
SELECT CASE grouped.grouping_set {kinds} END,
    COALESCE(grouped.project_id, grouped.department_id), COALESCE(project.name, department.name),
    project.deviation_threshold, due, late, open_overdue, slip, deviated, department.code,
    planned_day, done_day, NULL::bigint, NULL::bigint, NULL::varchar, NULL::timestamptz,
    NULL::timestamptz, NULL::varchar, NULL::varchar, NULL::varchar
FROM grouped
LEFT JOIN {project_table} AS project
    ON project.id = grouped.project_id AND grouped.grouping_set = {project_grouping}
LEFT JOIN {department_table} AS department
    ON department.id = grouped.department_id AND grouped.grouping_set = {department_grouping}
UNION ALL (
    SELECT 'slip', worst.id, node.title, NULL, NULL, NULL, NULL, worst.slip, NULL, NULL, NULL,
        NULL, worst.department_id, worst.project_id, worst.status, worst.planned_due,
        worst.completed_at, person.username, person.first_name, person.last_name
    FROM (SELECT * FROM week WHERE is_deviated ORDER BY slip DESC, id LIMIT %s) AS worst
    JOIN {node_table} AS node ON node.id = worst.id
    LEFT JOIN {user_table} AS person ON person.id = node.assignee_id
){context}{scope}
"""
_CONTEXT = """
UNION ALL
SELECT 'context', NULL, NULL, NULL, ({left_out}), backlog.count, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, backlog.oldest, NULL, NULL, NULL, NULL
FROM (SELECT count(*) AS count, min(planned_due) AS oldest FROM ({backlog}) AS open) AS backlog"""
_SCOPE = """
UNION ALL
SELECT 'scope', id, name, deviation_threshold, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM {project_table} WHERE id = %s"""
# The pass runs without parallel workers or JIT, set for it alone and in its own round trip
# (`_serial_pass`). Both are the planner's answer to the backlog's estimate: it multiplies "not
# done" by "planned before the period" as if they were independent, but the nodes of earlier
# periods are mostly done (1M benchmark nodes: 17,580 open ones expected as 255,000), and two
# workers' start-up costs more than the whole count (about 13 vs 4 ms); the same error grows
# past `jit_above_cost` with the table (at 1M the plan costs a fifth of it), and compiling
# costs more than the whole statement (56 ms at 1M nodes, forced) for a pass that reads a few
# thousand index rows.
_PASS_SETTINGS = {"max_parallel_workers_per_gather": "0", "jit": "off"}
# GROUPING(department_id, project_id, planned_day, done_day): a bit set for each column the
# row is NOT grouped by, the first column the highest bit.
_GROUPING = {"headline": 0b1111, "department": 0b0111, "project": 0b1011, "days": 0b1100}
_SLIP_DETAILS = ("title", "assignee__username", "assignee__first_name", "assignee__last_name")
# (due, late, open overdue, mean slip): a group's aggregates, in `_figures_of`'s order.
_Aggregates = tuple[int, int, int, timedelta | None]


@dataclass
class _WeekPass:
    """What the one pass over a period's population gives: the headline's aggregates,
    department rows (id, code, name, *aggregates) and project rows (id, name, threshold,
    *aggregates), the deviated nodes counted per (planned day, completion day), the worst
    slips (worst first, with their titles and assignees), and, when asked for, the context
    (the nodes left out and the backlog) and the scoped project's row (id, name, threshold).
    Tuples, not dicts: a report has a row per project."""

    headline: _Aggregates = (0, 0, 0, None)
    departments: list[tuple[Any, ...]] = field(default_factory=list)
    projects: list[tuple[Any, ...]] = field(default_factory=list)
    day_pairs: dict[tuple[date, date], int] = field(default_factory=dict)
    slips: list[dict[str, Any]] = field(default_factory=list)
    left_out: int | None = None
    backlog: tuple[int, datetime | None] | None = None
    scope: tuple[int, str, Decimal] | None = None


@dataclass(frozen=True)
class _Scope:
    """What a report reads besides its population: the left-out and backlog querysets (None
    without the context) and the project it is scoped to."""

    left_out: QuerySet[Milestone] | None
    backlog: QuerySet[Milestone] | None
    project_id: int | None


def _week_pass(
    population: QuerySet[Milestone],
    *,
    as_of: datetime,
    worst_slips: int,
    working_days: bool,
    scope: _Scope,
) -> _WeekPass:
    """The period's figures in ONE statement over its population (see `_PASS`); on a database
    without GROUPING SETS (SQLite, the embedded default) the same figures in a few queries."""
    zone = timezone.get_current_timezone()
    if connection.vendor != "postgresql":
        return _week_pass_portable(
            population,
            as_of=as_of,
            worst_slips=worst_slips,
            working_days=working_days,
            scope=scope,
        )
    week = population.annotate(
        is_late=_flag(LATE),
        is_open=_flag(OPEN),
        is_deviated=_flag(DEVIATED),
        slip=_slip(as_of),
        planned_day=TruncDate("planned_due", tzinfo=zone),
        done_day=TruncDate(_completion(as_of), tzinfo=zone),
    ).values(
        "id", "department_id", "project_id", "status", "planned_due", "completed_at",
        "is_late", "is_open", "is_deviated", "slip", "planned_day", "done_day",
    )  # fmt: skip
    sql, params = week.order_by().query.sql_with_params()
    params = [*params, worst_slips]
    table = {
        name: connection.ops.quote_name(model._meta.db_table)
        for name, model in (
            ("project_table", Project),
            ("department_table", Department),
            ("node_table", Milestone),
            ("user_table", User),
        )
    }
    context = scope_sql = ""
    if scope.left_out is not None and scope.backlog is not None:
        left_out_sql, left_out_params = (
            scope.left_out.values("id").order_by().query.sql_with_params()
        )
        backlog_sql, backlog_params = (
            scope.backlog.values("planned_due").order_by().query.sql_with_params()
        )
        context = _CONTEXT.format(
            left_out=f"SELECT count(*) FROM ({left_out_sql}) AS left_out", backlog=backlog_sql
        )
        params += [*left_out_params, *backlog_params]
    if scope.project_id is not None:
        scope_sql = _SCOPE.format(project_table=table["project_table"])
        params.append(scope.project_id)
    statement = _PASS.format(
        population=sql,
        # every set, even when the day pairs go unused: GROUPING() names all four columns
        groups=", ".join(_GROUPS.values()),
        kinds=" ".join(f"WHEN {bits} THEN '{kind}'" for kind, bits in _GROUPING.items()),
        project_grouping=_GROUPING["project"],
        department_grouping=_GROUPING["department"],
        context=context,
        scope=scope_sql,
        **table,
    )
    rows = _serial_pass(statement, params)
    result = _WeekPass()
    for row in rows:
        if row[0] == "project":
            result.projects.append(row[_PROJECT_ROW])
            continue
        values = dict(zip(_LAYOUT, row, strict=True))
        aggregates = (values["due"], values["late"], values["open_overdue"], values["slip"])
        match values["kind"]:
            case "headline":
                result.headline = aggregates
            case "department":
                department = (values["id"], values["code"], values["name"])
                result.departments.append((*department, *aggregates))
            case "days" if values["deviated"]:
                result.day_pairs[(values["planned_day"], values["done_day"])] = values["deviated"]
            case "slip":
                result.slips.append(
                    {"id": values["id"], "department_id": values["department_id"],
                     "project_id": values["project_id"], "status": values["status"],
                     "planned_due": values["planned_due"], "completed_at": values["completed_at"],
                     "slip": values["slip"], "title": values["name"],
                     "assignee__username": values["username"],
                     "assignee__first_name": values["first_name"],
                     "assignee__last_name": values["last_name"]}
                )  # fmt: skip
            case "context":
                result.left_out = values["due"]
                result.backlog = (values["late"], values["planned_due"])
            case "scope":
                result.scope = (values["id"], values["name"], values["threshold"])
    result.slips.sort(key=lambda node: (-node["slip"], node["id"]))  # UNION ALL keeps no order
    return result


def _serial_pass(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of `statement`, run with `_PASS_SETTINGS`, in one round trip: the settings are
    SET LOCAL before it in the same query string, which in autocommit is one implicit
    transaction. Inside the caller's transaction they would last to its end, so there a
    savepoint, rolled back after the (read-only) statement, puts back exactly what was set."""
    settings = "".join(f"SET LOCAL {name} = {value};\n" for name, value in _PASS_SETTINGS.items())
    before = len(_PASS_SETTINGS)  # results ahead of the statement's
    sql = f"{settings}{statement}"
    if not connection.get_autocommit():
        sql = (
            f"SAVEPOINT report_pass;\n{sql};\n"
            "ROLLBACK TO SAVEPOINT report_pass;\nRELEASE SAVEPOINT report_pass"
        )
        before += 1
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for _result in range(before):
            cursor.nextset()
        return cursor.fetchall()


def _week_pass_portable(
    population: QuerySet[Milestone],
    *,
    as_of: datetime,
    worst_slips: int,
    working_days: bool,
    scope: _Scope,
) -> _WeekPass:
    """`_week_pass` as one query per grouping and lookup, from the same definitions."""
    zone = timezone.get_current_timezone()
    aggregates = _aggregates(as_of)
    base = population.order_by()
    result = _WeekPass(headline=_aggregates_of(base.aggregate(**aggregates)))
    department_rows = list(
        base.values("department_id").annotate(**aggregates).order_by("department_id")
    )
    departments = Department.objects.in_bulk([row["department_id"] for row in department_rows])
    result.departments = [
        (department.pk, department.code, department.name, *_aggregates_of(row))
        for row in department_rows
        for department in [departments[row["department_id"]]]
    ]
    rows = list(base.values("project_id").annotate(**aggregates).order_by("project_id"))
    projects = Project.objects.in_bulk([row["project_id"] for row in rows])
    result.projects = [
        (project.pk, project.name, project.deviation_threshold, *_aggregates_of(row))
        for row in rows
        for project in [projects[row["project_id"]]]
    ]
    deviated = base.filter(DEVIATED)
    if working_days:
        result.day_pairs = {
            (row["planned_day"], row["done_day"]): row["count"]
            for row in deviated.annotate(
                planned_day=TruncDate("planned_due", tzinfo=zone),
                done_day=TruncDate(_completion(as_of), tzinfo=zone),
            )
            .values("planned_day", "done_day")
            .annotate(count=Count("id"))
        }
    result.slips = list(
        deviated.annotate(slip=_slip(as_of))
        .order_by("-slip", "id")
        .values(
            "id", "department_id", "project_id", "status", "planned_due", "completed_at", "slip",
            *_SLIP_DETAILS,
        )[:worst_slips]
    )  # fmt: skip
    if scope.left_out is not None and scope.backlog is not None:
        result.left_out = scope.left_out.count()
        backlog = scope.backlog.aggregate(count=Count("id"), oldest=Min("planned_due"))
        result.backlog = (backlog["count"], backlog["oldest"])
    if scope.project_id is not None and scope.project_id not in projects:
        result.scope = (
            Project.objects.filter(pk=scope.project_id)
            .values_list("id", "name", "deviation_threshold")
            .first()
        )
    return result


def _aggregates_of(row: dict[str, Any]) -> _Aggregates:
    """`_aggregates`' values from the ORM's dict, as the pass gives them."""
    return (row["due_count"], row["late_count"], row["open_overdue_count"], row["mean_slip"])


def _display_name(row: dict[str, Any]) -> str | None:
    """The assignee's name as `User.__str__` gives it (full name, else username), from values."""
    if row["assignee__username"] is None:
        return None
    return display_name(
        row["assignee__username"], row["assignee__first_name"], row["assignee__last_name"]
    )


def deviation_report(
    *,
    period: Period,
    as_of: datetime | None = None,
    project_id: int | None = None,
    department_id: int | None = None,
    worst_slips: int = 10,
    working_days: bool = True,
    context: bool = True,
) -> dict[str, Any]:
    """The deviation report of one period: headline, per department, per project, worst slips
    (and, with `working_days`, slips in working days), all from one statement over the
    period's nodes (`_week_pass`), names joined by id; with `context`, the nodes left out (no
    baseline) and the backlog in the same statement.

    Three queries, whatever the size: the re-baseline check, the pass, the working calendar
    (one per year it reads).
    """
    as_of = as_of or timezone.now()
    population = report_population(
        start=period.start,
        end=period.end,
        as_of=as_of,
        project_id=project_id,
        department_id=department_id,
    )
    scope = _Scope(
        left_out=_left_out(period, as_of=as_of, project_id=project_id, department_id=department_id)
        if context
        else None,
        backlog=_backlog(before=period.start, project_id=project_id, department_id=department_id)
        if context
        else None,
        project_id=project_id,
    )
    week = _week_pass(
        population,
        as_of=as_of,
        worst_slips=max(worst_slips, 0),
        working_days=working_days,
        scope=scope,
    )
    headline = _figures_of(*week.headline)
    # id → (id, name, threshold, …): the slips' projects and departments, the scope's threshold
    projects = {row[0]: row for row in week.projects}
    if week.scope is not None and project_id not in projects:  # none of its nodes in the period
        projects[project_id] = week.scope
    departments = {row[0]: row for row in week.departments}
    threshold = projects[project_id][2] if project_id in projects else None
    if threshold is None:  # not `or`: a project's threshold of 0 is a real threshold
        threshold = default_threshold()

    by_department = sorted(
        (
            {"code": code, "name": name, **_figures_of(*aggregates)}
            for _, code, name, *aggregates in week.departments
        ),
        key=lambda entry: (entry["name"], entry["code"]),
    )
    by_project = []
    for project, name, project_threshold, *aggregates in week.projects:
        figures = _figures_of(*aggregates)
        by_project.append(
            {
                "id": project,
                "name": name,
                **figures,
                "threshold": project_threshold,
                "breached": _breached(figures, project_threshold),
            }
        )
    by_project.sort(key=lambda entry: (entry["name"], entry["id"]))
    calendar = WorkingCalendar()
    if week.backlog is None:
        backlog = {"backlog_count": None, "backlog_oldest_slip_days": None}
    else:
        count, oldest = week.backlog
        backlog = {
            "backlog_count": count,
            "backlog_oldest_slip_days": _days(as_of - oldest) if oldest else None,
        }
    return {
        "period": period.label,
        "start": period.start,
        "end": period.end,
        "as_of": as_of,
        **headline,
        "mean_slip_working_days": _working_slip_mean(week.day_pairs, calendar)
        if working_days
        else None,
        "threshold": threshold,
        "breached": _breached(headline, threshold),
        "small_sample": headline["due_count"] < small_sample_size(),
        "left_out_count": week.left_out,
        **backlog,
        "by_department": by_department,
        "by_project": by_project,
        "worst_slips": [
            {
                "id": slip["id"],
                "title": slip["title"],
                "project_id": slip["project_id"],
                "project": projects[slip["project_id"]][1],
                "department": departments[slip["department_id"]][1],
                "department_name": departments[slip["department_id"]][2],  # people read it
                "assignee": slip["assignee__username"],
                "assignee_name": _display_name(slip),
                "planned_due": slip["planned_due"],
                "completed_at": slip["completed_at"],
                "status": slip["status"],
                "slip_days": _days(slip["slip"]),
                "slip_working_days": calendar.working_days_between(
                    timezone.localtime(slip["planned_due"]).date(),
                    timezone.localtime(slip["completed_at"] or as_of).date(),
                ),
            }
            for slip in week.slips
        ],
    }


def _left_out(
    period: Period, *, as_of: datetime, project_id: int | None, department_id: int | None
) -> QuerySet[Milestone]:
    """The nodes of the period the report leaves out: their projects have no baseline."""
    queryset = Milestone.objects.left_out_of_reports().filter(
        planned_due__gte=period.start, planned_due__lt=period.end, planned_due__lte=as_of
    )
    if project_id is not None:
        queryset = queryset.filter(project_id=project_id)
    if department_id is not None:
        queryset = queryset.filter(department_id=department_id)
    return queryset


def _backlog(
    *, before: datetime, project_id: int | None, department_id: int | None
) -> QuerySet[Milestone]:
    """The nodes still open from earlier periods (planned due before `before`); the report
    gives how many, and the oldest one's slip in days."""
    queryset = Milestone.objects.counted_in_reports().filter(OPEN, planned_due__lt=before)
    if project_id is not None:
        queryset = queryset.filter(project_id=project_id)
    if department_id is not None:
        queryset = queryset.filter(department_id=department_id)
    return queryset


def monthly_report(
    *,
    period: Period,
    as_of: datetime | None = None,
    project_id: int | None = None,
    department_id: int | None = None,
) -> dict[str, Any]:
    """The month's report plus its weekly trend, the departments ranked by deviation and the
    monthly deep analysis (`analysis`, tracker/reports/analysis.py)."""
    report = deviation_report(
        period=period, as_of=as_of, project_id=project_id, department_id=department_id
    )
    population = report_population(
        start=period.start,
        end=period.end,
        as_of=report["as_of"],
        project_id=project_id,
        department_id=department_id,
    )
    trend = _trend_by_week(population, as_of=report["as_of"], start=period.start, end=period.end)
    report["weekly_trend"] = trend
    report["departments_ranked"] = sorted(
        report["by_department"],
        key=lambda d: (-(d["deviation_rate"] or 0), -d["deviated_count"], d["name"]),
    )
    report["analysis"] = monthly_analysis(
        period, report["as_of"], project_id=project_id, department_id=department_id
    )
    return report


def _trend_by_week(
    population: QuerySet[Milestone], *, as_of: datetime, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Figures per ISO week from `start` to `end`, empty weeks included, in one query."""
    zone = timezone.get_current_timezone()
    rows = {
        timezone.localtime(row["week"]).date(): row
        for row in population.annotate(week=TruncWeek("planned_due", tzinfo=zone))
        .values("week")
        .annotate(**_aggregates(as_of))
        .order_by("week")
    }
    empty = {"due_count": 0, "late_count": 0, "open_overdue_count": 0, "mean_slip": None}
    trend = []
    cursor = week_period(start)
    while cursor.start < end:
        row = rows.get(timezone.localtime(cursor.start).date(), empty)
        trend.append(
            {"week": cursor.label, "start": cursor.start, "end": cursor.end, **_figures(row)}
        )
        cursor = week_period(cursor.end)
    return trend


def weekly_trend(
    *, weeks: int, as_of: datetime | None = None, project_id: int | None = None
) -> list[dict[str, Any]]:
    """The headline figures of the last `weeks` ISO weeks up to `as_of`, oldest first."""
    as_of = as_of or timezone.now()
    last = week_period(as_of)
    first_start = week_period(last.start - timedelta(weeks=weeks - 1)).start
    population = report_population(
        start=first_start, end=last.end, as_of=as_of, project_id=project_id
    )
    return _trend_by_week(population, as_of=as_of, start=first_start, end=last.end)


# The fields of a node whose change can move a closed period's figure. Its current due date is
# not one: a baselined node is measured against its baseline (`baseline_due_at`), so moving
# `due_at` re-plans it without changing any figure, and is not listed as a restatement.
FIGURE_FIELDS = ("status", "completed_at", "deleted", "created", "baseline_due_at")
# The project changes that move a figure or its verdict.
AUDIT_FIELDS = ("deviation_threshold", "rebaseline", "baseline")


def report_restatements(
    *,
    period: Period,
    since: datetime,
    project_id: int | None = None,
    department_id: int | None = None,
) -> list[dict[str, Any]]:
    """The recorded changes since `since` (the snapshot) that touch the period's figure: changes
    of a baselined project's node planned in the period (a move, cancellation, completion,
    deletion, a node added to it, a re-baseline), and changes of those projects' thresholds
    and baselines. Each says the node, what changed, who, when and the reason. Two queries."""
    changes = MilestoneChange.objects.filter(
        created_at__gt=since,
        field__in=FIGURE_FIELDS,
        planned_due__gte=period.start,
        planned_due__lt=period.end,
        project_ref__in=Project.objects.filter(baselined_at__isnull=False).values("pk"),
    ).select_related("actor")
    if project_id is not None:
        changes = changes.filter(project_ref=project_id)
    if department_id is not None:
        changes = changes.filter(department_ref=department_id)
    names = _reason_names()
    rows = [
        {
            "node_id": change.node_id,
            "node": change.node_title,
            "project_id": change.project_ref,
            "field": change.field,
            "old_value": change.old_value,
            "new_value": change.new_value,
            "actor": change.actor.username if change.actor else None,
            "actor_name": str(change.actor) if change.actor else None,
            "at": change.created_at,
            "reason_code": change.reason_code,
            "reason_name": names.get(change.reason_code, ""),
            "reason": change.reason,
        }
        for change in changes.order_by("created_at", "id")
    ]
    if department_id is None:
        audits = AuditEntry.objects.filter(created_at__gt=since, field__in=AUDIT_FIELDS)
        audits = (
            audits.filter(project_ref=project_id)
            if project_id is not None
            else audits.filter(project_ref__isnull=False)
        ).select_related("actor")
        rows += [
            {
                "node_id": None,
                "node": entry.subject,
                "project_id": entry.project_ref,
                "field": entry.field,
                "old_value": entry.old_value,
                "new_value": entry.new_value,
                "actor": entry.actor.username if entry.actor else None,
                "actor_name": str(entry.actor) if entry.actor else None,
                "at": entry.created_at,
                "reason_code": entry.reason_code,
                "reason_name": names.get(entry.reason_code, ""),
                "reason": entry.reason,
            }
            for entry in audits.order_by("created_at", "id")
        ]
        rows.sort(key=lambda row: row["at"])
    return rows


def snapshot_of_record(
    *, period: Period, project_id: int | None = None, department_id: int | None = None
) -> ReportSnapshot | None:
    """The current snapshot of a closed period and scope, taken once it had closed: the
    period's figure of record. None while the period is open or was never snapshotted."""
    if project_id is not None:
        scope = f"project:{project_id}"
    elif department_id is not None:
        code = Department.objects.filter(pk=department_id).values_list("code", flat=True).first()
        scope = f"department:{code}"
    else:
        scope = "all"
    return ReportSnapshot.objects.filter(
        kind=period.kind,
        label=period.label,
        scope=scope,
        superseded_at__isnull=True,
        as_of__gte=period.end,
    ).first()


LIVE_FIGURES = (
    "due_count",
    "on_time_count",
    "deviated_count",
    "late_count",
    "open_overdue_count",
    "deviation_rate",
    "mean_slip_days",
    "breached",
)


def _revive(data: dict[str, Any]) -> dict[str, Any]:
    """A stored report (JSON) with its datetimes and thresholds as objects again, so every
    consumer renders the record as it renders a live report."""

    def moment(value: Any) -> Any:
        return parse_datetime(value) if isinstance(value, str) else value

    record = dict(data)
    for key in ("start", "end", "as_of"):
        record[key] = moment(record.get(key))
    if record.get("threshold") is not None:
        record["threshold"] = Decimal(str(record["threshold"]))
    record["by_project"] = [
        {**row, "threshold": Decimal(str(row["threshold"]))} for row in record.get("by_project", [])
    ]
    record["worst_slips"] = [
        {
            **row,
            "planned_due": moment(row.get("planned_due")),
            "completed_at": moment(row.get("completed_at")),
        }
        for row in record.get("worst_slips", [])
    ]
    for key in ("weekly_trend",):
        if key in record:
            record[key] = [
                {**row, "start": moment(row.get("start")), "end": moment(row.get("end"))}
                for row in record[key]
            ]
    return record


def report_of_record(
    *,
    period: Period,
    as_of: datetime | None = None,
    project_id: int | None = None,
    department_id: int | None = None,
    worst_slips: int = 10,
) -> dict[str, Any]:
    """The report every consumer shows (web, API, exports, chat): for a closed period with a
    snapshot, the snapshot's figures (the figure of record) with `of_record`, `snapshot_at`,
    today's recomputation as `live`, `restated` when its rate differs, and the
    `restatements`; otherwise the live report (`of_record` false)."""
    as_of = as_of or timezone.now()
    compute = deviation_report if period.kind == PeriodKind.WEEK else monthly_report
    kwargs = {"worst_slips": worst_slips} if period.kind == PeriodKind.WEEK else {}
    live = compute(
        period=period, as_of=as_of, project_id=project_id, department_id=department_id, **kwargs
    )
    live_figures = {key: live[key] for key in LIVE_FIGURES}
    snapshot = (
        snapshot_of_record(period=period, project_id=project_id, department_id=department_id)
        if period.end <= as_of
        else None
    )
    if snapshot is None:
        return {
            **live,
            "of_record": False,
            "snapshot_at": None,
            "live": live_figures,
            "restated": False,
            "restatements": [],
        }
    record = _revive(snapshot.data)
    for key, value in live.items():  # older snapshots lack the newer keys
        record.setdefault(key, value)
    return {
        **record,
        "of_record": True,
        "snapshot_at": snapshot.as_of,
        "live": live_figures,
        "restated": live["deviation_rate"] != snapshot.deviation_rate
        or live["due_count"] != record.get("due_count"),
        "restatements": report_restatements(
            period=period, since=snapshot.as_of, project_id=project_id, department_id=department_id
        ),
    }
