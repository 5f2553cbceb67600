"""`manage.py flag_overdue [--now ISO8601]`: one full alert scan, the beat's code, right now."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.alerts.services import ScanLock, alerts_scan


def parse_moment(value: str) -> datetime:
    """An ISO 8601 date and time; without an offset it is read in TIME_ZONE."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(
            _("--now must be an ISO 8601 date and time, e.g. 2026-11-02T18:00:00+08:00.")
        ) from exc
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = _("Run one alert scan (overdue, escalation, due soon, resolved) and queue messages.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help=_("Scan as of this moment (ISO 8601) instead of the current time."),
        )

    def handle(self, *args, now: str | None = None, **options):
        moment = parse_moment(now) if now else timezone.now()
        result = alerts_scan(now=moment, lock=ScanLock.WAIT)
        self.stdout.write(
            _(
                "newly overdue: %(overdue)d, escalated: %(escalated)d, due soon: %(due_soon)d, "
                "resolved: %(resolved)d, messages queued: %(messages)d"
            )
            % result.as_dict()
        )
