"""A period's population and its figures: the vocabulary every report of the reports package
computes with (docs/deviation-rate.md). `selectors` (the weekly and monthly reports, the figure
of record) and `analysis` (the monthly deep analysis) both read it; the underscored helpers are
the package's own, not an API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)

from tracker.milestones.models import BaselineEntry, DeviationReason, Milestone, MilestoneStatus

LATE = Q(status=MilestoneStatus.DONE, completed_at__gt=F("planned_due"))
OPEN = ~Q(status=MilestoneStatus.DONE)
DEVIATED = LATE | OPEN


def report_population(
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    project_id: int | None = None,
    department_id: int | None = None,
) -> QuerySet[Milestone]:
    """The nodes a period counts (`counted_in_reports`: baselined projects, closed and
    archived ones too) whose planned due, by the baseline in force at the period's end, lies in
    [start, end) and not after `as_of`."""
    boundary = min(end, as_of)
    # Only a re-baseline after the boundary makes the baseline in force differ from today's:
    # without one, the plain (indexed) planned due is the same thing.
    rebaselined = BaselineEntry.objects.filter(number__gt=1, taken_at__gt=boundary).exists()
    queryset = Milestone.objects.counted_in_reports(
        baseline_at=boundary if rebaselined else None
    ).filter(planned_due__gte=start, planned_due__lt=end, planned_due__lte=as_of)
    if project_id is not None:
        queryset = queryset.filter(project_id=project_id)
    if department_id is not None:
        queryset = queryset.filter(department_id=department_id)
    return queryset


def _slip(as_of: datetime) -> ExpressionWrapper:
    """How late a deviated node is: completion (or as_of, when still open) minus planned due."""
    return ExpressionWrapper(_completion(as_of) - F("planned_due"), output_field=DurationField())


def _aggregates(as_of: datetime) -> dict[str, Any]:
    return {
        "due_count": Count("id"),
        "late_count": Count("id", filter=LATE),
        "open_overdue_count": Count("id", filter=OPEN),
        "mean_slip": Avg(_slip(as_of), filter=DEVIATED, output_field=DurationField()),
    }


def _rate(deviated: int, population: int) -> float | None:
    return round(deviated / population, 4) if population else None


def _days(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 86400, 2)


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    return _figures_of(
        row["due_count"], row["late_count"], row["open_overdue_count"], row["mean_slip"]
    )


def _figures_of(
    due: int, late: int, open_overdue: int, mean_slip: timedelta | None
) -> dict[str, Any]:
    """A group's figures from its aggregates (`_aggregates`, in that order)."""
    deviated = late + open_overdue
    return {
        "due_count": due,
        "on_time_count": due - deviated,
        "deviated_count": deviated,
        "late_count": late,
        "open_overdue_count": open_overdue,
        "deviation_rate": _rate(deviated, due),
        "mean_slip_days": _days(mean_slip),
    }


def _completion(as_of: datetime) -> Case:
    return Case(When(status=MilestoneStatus.DONE, then=F("completed_at")), default=Value(as_of))


def _reason_names() -> dict[str, str]:
    return {reason.code: reason.name for reason in DeviationReason.objects.all()}
