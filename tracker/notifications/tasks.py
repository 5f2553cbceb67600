"""Celery tasks of the outbox: named, argument-free, one call each."""

from celery import shared_task

from tracker.notifications import outbox


@shared_task(name="notifications.outbox_flush", ignore_result=True, acks_late=True)
def outbox_flush() -> dict:
    """After each scan or report, and every minute: send what is due. Safe to run many at once.
    A flush that reached its time budget with messages still due hands over to a fresh one."""
    result = outbox.outbox_flush()
    if result.more:
        outbox_flush.delay()
    return result.as_dict()
