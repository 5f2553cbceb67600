"""Celery tasks of the outbox: named, argument-free, one call each."""

from celery import shared_task

from tracker.notifications import outbox


@shared_task(name="notifications.outbox_flush", ignore_result=True, acks_late=True)
def outbox_flush() -> dict:
    """After each scan or report, and every minute: send what is due. Safe to run many at once."""
    return outbox.outbox_flush().as_dict()
