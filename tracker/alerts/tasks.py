"""Celery tasks: named, argument-free, one call each into the services (the beat runs them)."""

from celery import shared_task
from django.utils import timezone

from tracker.alerts import digest, services


@shared_task(name="alerts.scan_overdue", ignore_result=True)
def scan_overdue() -> dict:
    """Every minute: newly overdue and escalated nodes."""
    return services.alerts_scan(now=timezone.now(), due_soon=False).as_dict()


@shared_task(name="alerts.scan_due_soon", ignore_result=True)
def scan_due_soon() -> dict:
    """Every 15 minutes: nodes entering their due-soon window, and resolved alerts."""
    return services.alerts_scan(now=timezone.now(), overdue=False).as_dict()


@shared_task(name="alerts.send_digests", ignore_result=True)
def send_digests() -> int:
    """Daily: one email per person in digest mode with everything since the last one. Outside
    working time it runs again when the next working period starts (a second run finds
    nothing held, so a repeated delivery sends nothing twice)."""
    now = timezone.now()
    at = digest.alerts_digest_time(now=now)
    if at > now:
        send_digests.apply_async(eta=at)
        return 0
    return digest.alerts_digest_send(now=now)
