"""`manage.py monthly_report [--month YYYY-MM] [--project ID | --department CODE] [--json]
[--send]`: print a month's report with its weekly trend; with --send also store and send it."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.reports.management.commands._report import ReportCommand
from tracker.reports.periods import Period, month_period, parse_month


class Command(ReportCommand):
    help = _("Print (or with --send store and send) the monthly report with its weekly trend.")
    kind = "month"
    period_option = "--month"
    example = "2026-11"

    def parse_period(self, value: str) -> Period:
        return parse_month(value)

    def default_period(self) -> Period:
        return month_period(timezone.now()).previous()
