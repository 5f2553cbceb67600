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

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    Min,
    QuerySet,
)
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tracker.accounts.models import AuditEntry, Department, User
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
    OPEN,
    _aggregates,
    _completion,
    _days,
    _figures,
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


def _mean_working_slip(
    population: QuerySet, *, as_of: datetime, calendar: WorkingCalendar
) -> float | None:
    """The mean slip of the deviated nodes in working days, as a team counts it: one query
    grouped by (planned day, completion day), so the calendar works on a few pairs of days."""
    zone = timezone.get_current_timezone()
    pairs = (
        population.filter(DEVIATED)
        .annotate(
            planned_day=TruncDate("planned_due", tzinfo=zone),
            done_day=TruncDate(_completion(as_of), tzinfo=zone),
        )
        .values("planned_day", "done_day")
        .annotate(count=Count("id"))
        .order_by()
    )
    total = count = 0
    for row in pairs:
        total += row["count"] * calendar.working_days_between(row["planned_day"], row["done_day"])
        count += row["count"]
    return round(total / count, 2) if count else None


def _breached(figures: dict[str, Any], threshold: Decimal) -> bool:
    """deviated / population > threshold, compared exactly (the shown rate is rounded)."""
    return figures["deviated_count"] > threshold * figures["due_count"]


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
    """The deviation report of one period: headline, per department, per project, worst slips.
    With `working_days`, slips are also counted in working days (two more queries); with
    `context`, the nodes left out (no baseline) and the backlog (two more).

    Four aggregate queries (plus one for the threshold of a single project), whatever the size.
    """
    as_of = as_of or timezone.now()
    population = report_population(
        start=period.start,
        end=period.end,
        as_of=as_of,
        project_id=project_id,
        department_id=department_id,
    )
    aggregates = _aggregates(as_of)
    headline = _figures(population.aggregate(**aggregates))
    threshold = (
        Project.objects.filter(pk=project_id).values_list("deviation_threshold", flat=True).first()
        if project_id is not None
        else None
    )
    if threshold is None:  # not `or`: a project's threshold of 0 is a real threshold
        threshold = default_threshold()

    by_department = [
        {"code": row["department__code"], "name": row["department__name"], **_figures(row)}
        for row in population.values("department__code", "department__name")
        .annotate(**aggregates)
        .order_by("department__name")
    ]
    by_project = []
    for row in (
        population.values("project_id", "project__name", "project__deviation_threshold")
        .annotate(**aggregates)
        .order_by("project__name")
    ):
        figures = _figures(row)
        by_project.append(
            {
                "id": row["project_id"],
                "name": row["project__name"],
                **figures,
                "threshold": row["project__deviation_threshold"],
                "breached": _breached(figures, row["project__deviation_threshold"]),
            }
        )
    calendar = WorkingCalendar()
    left_out = Milestone.objects.left_out_of_reports().filter(
        planned_due__gte=period.start, planned_due__lt=period.end, planned_due__lte=as_of
    )
    if project_id is not None:
        left_out = left_out.filter(project_id=project_id)
    if department_id is not None:
        left_out = left_out.filter(department_id=department_id)
    backlog = (
        _backlog(
            as_of=as_of, before=period.start, project_id=project_id, department_id=department_id
        )
        if context
        else {"backlog_count": None, "backlog_oldest_slip_days": None}
    )
    slips = (
        population.filter(DEVIATED)
        .annotate(slip=_slip(as_of))
        .select_related("project", "department", "assignee")
        .order_by("-slip", "id")[:worst_slips]
    )
    return {
        "period": period.label,
        "start": period.start,
        "end": period.end,
        "as_of": as_of,
        **headline,
        "mean_slip_working_days": _mean_working_slip(population, as_of=as_of, calendar=calendar)
        if working_days
        else None,
        "threshold": threshold,
        "breached": _breached(headline, threshold),
        "small_sample": headline["due_count"] < small_sample_size(),
        "left_out_count": left_out.count() if context else None,
        **backlog,
        "by_department": by_department,
        "by_project": by_project,
        "worst_slips": [
            {
                "id": node.pk,
                "title": node.title,
                "project_id": node.project_id,
                "project": node.project.name,
                "department": node.department.code,
                "assignee": node.assignee.username if node.assignee else None,
                "planned_due": node.planned_due,
                "completed_at": node.completed_at,
                "status": node.status,
                "slip_days": _days(node.slip),
                "slip_working_days": calendar.working_days_between(
                    timezone.localtime(node.planned_due).date(),
                    timezone.localtime(node.completed_at or as_of).date(),
                ),
            }
            for node in slips
        ],
    }


def _backlog(
    *, as_of: datetime, before: datetime, project_id: int | None, department_id: int | None
) -> dict[str, Any]:
    """The nodes still open from earlier periods (planned due before `before`): how many, and
    the oldest slip in days. One query."""
    queryset = Milestone.objects.counted_in_reports().filter(OPEN, planned_due__lt=before)
    if project_id is not None:
        queryset = queryset.filter(project_id=project_id)
    if department_id is not None:
        queryset = queryset.filter(department_id=department_id)
    row = queryset.aggregate(count=Count("id"), oldest=Min("planned_due"))
    oldest = row["oldest"]
    return {
        "backlog_count": row["count"],
        "backlog_oldest_slip_days": _days(as_of - oldest) if oldest else None,
    }


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
