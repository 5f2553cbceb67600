"""Writes to the outbox that the apps above call: queue, ask for a flush, send again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracker.notifications import tasks
from tracker.notifications.models import OutboxMessage, OutboxStatus


def outbox_flush_after_commit(messages: int = 1) -> None:
    """Ask workers to flush the outbox once the current transaction commits: one flush task per
    OUTBOX_BATCH_SIZE of the `messages` just queued, at most OUTBOX_FLUSH_TASKS, so every free
    worker process takes a share of a large fan-out (each claims its own rows)."""
    count = max(1, min(settings.OUTBOX_FLUSH_TASKS, -(-messages // settings.OUTBOX_BATCH_SIZE)))

    def flush() -> None:
        for _ in range(count):
            tasks.outbox_flush.delay()

    # robust: a broker hiccup must not fail the caller; the every-minute sweep catches up.
    transaction.on_commit(flush, robust=True)


@transaction.atomic
def outbox_queue(messages: Sequence[OutboxMessage]) -> int:
    """Queue `messages` once per dedupe key (a key already queued queues nothing) and flush
    after commit. Returns how many are new."""
    known = set(
        OutboxMessage.objects.filter(dedupe_key__in=[m.dedupe_key for m in messages]).values_list(
            "dedupe_key", flat=True
        )
    )
    new = [message for message in messages if message.dedupe_key not in known]
    # ignore_conflicts: a racing run that queued the same key first wins, nothing is doubled.
    OutboxMessage.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        outbox_flush_after_commit(len(new))
    return len(new)


def outbox_retry(*, message_ids: Iterable) -> int:
    """Send failed messages, or ones waiting for their next attempt, as soon as possible (the
    admin's action); sent, merged, held and sending ones are left alone."""
    with transaction.atomic():
        count = (
            OutboxMessage.objects.filter(pk__in=list(message_ids))
            .filter(status__in=[OutboxStatus.FAILED, OutboxStatus.PENDING])
            .update(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
        )
        if count:
            outbox_flush_after_commit(count)
    return count
