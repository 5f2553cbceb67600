"""`manage.py weekly_report [--week YYYY-Www] [--project ID | --department CODE] [--json]
[--send]`: print a week's deviation report; with --send also store and send it."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.reports.management.commands._report import ReportCommand
from tracker.reports.periods import Period, parse_week, week_period


class Command(ReportCommand):
    help = _("Print (or with --send store and send) the weekly deviation report.")
    kind = "week"
    period_option = "--week"
    example = "2026-W47"

    def parse_period(self, value: str) -> Period:
        return parse_week(value)

    def default_period(self) -> Period:
        return week_period(timezone.now()).previous()
