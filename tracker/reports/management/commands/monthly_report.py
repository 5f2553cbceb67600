"""`manage.py monthly_report [--month YYYY-MM] [--project ID | --department CODE] [--json]
[--send]`: print a month's report with its weekly trend; with --send also store and send it."""

from django.utils.translation import gettext_lazy as _

from tracker.reports.management.commands._report import ReportCommand
from tracker.reports.periods import PeriodKind


class Command(ReportCommand):
    help = _("Print (or with --send store and send) the monthly report with its weekly trend.")
    kind = PeriodKind.MONTH
    example = "2026-11"
