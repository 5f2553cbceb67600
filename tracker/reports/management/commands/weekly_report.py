"""`manage.py weekly_report [--week YYYY-Www] [--project ID | --department CODE] [--json]
[--send]`: print a week's deviation report; with --send also store and send it."""

from django.utils.translation import gettext_lazy as _

from tracker.reports.management.commands._report import ReportCommand
from tracker.reports.periods import PeriodKind


class Command(ReportCommand):
    help = _("Print (or with --send store and send) the weekly deviation report.")
    kind = PeriodKind.WEEK
    example = "2026-W47"
