"""`manage.py send_digests`: queue today's digest emails now (the beat does it at 08:00)."""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.alerts.digest import alerts_digest_send


class Command(BaseCommand):
    help = _("Queue one digest email per person with alerts not emailed yet.")

    def handle(self, *args, **options):
        count = alerts_digest_send(now=timezone.now())
        self.stdout.write(_("digest emails queued: %(count)d") % {"count": count})
