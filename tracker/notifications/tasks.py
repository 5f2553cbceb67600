"""Celery tasks of the outbox: named, argument-free, one call each."""

from celery import shared_task

from tracker.notifications import outbox


@shared_task(name="notifications.outbox_flush", ignore_result=True, acks_late=True, bind=True)
def outbox_flush(self) -> dict:
    """After each scan or report, and every minute: send what is due, until nothing is. Safe to
    run many at once. Short of the worker's time limit it hands over to a fresh flush."""
    result = outbox.outbox_flush(budget_seconds=outbox.flush_budget(self.request.timelimit))
    if result.more:
        outbox_flush.delay()
    return result.as_dict()
