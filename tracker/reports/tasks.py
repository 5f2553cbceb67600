"""Celery tasks for the periodic reports (Monday and the 1st at 09:00, editable in the admin)."""

from celery import shared_task
from django.utils import timezone

from tracker.reports import services
from tracker.reports.periods import PeriodKind


@shared_task(name="reports.weekly", ignore_result=True)
def weekly_report() -> int:
    """Last ISO week's report: stored, emailed to owners and leads, posted to channels."""
    published = services.report_run_scheduled(kind=PeriodKind.WEEK, now=timezone.now())
    return sum(p.messages for p in published)


@shared_task(name="reports.monthly", ignore_result=True)
def monthly_report() -> int:
    """Last month's report with its weekly trend, likewise."""
    published = services.report_run_scheduled(kind=PeriodKind.MONTH, now=timezone.now())
    return sum(p.messages for p in published)
