"""Writes to the outbox that the apps above call: queue, ask for a flush, send again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from tracker.notifications import tasks
from tracker.notifications.models import OutboxMessage, OutboxStatus


def outbox_flush_after_commit() -> None:
    """Ask a worker to flush the outbox once the current transaction commits."""
    # robust: a broker hiccup must not fail the caller; the every-minute sweep catches up.
    transaction.on_commit(tasks.outbox_flush.delay, robust=True)


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
        outbox_flush_after_commit()
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
            outbox_flush_after_commit()
    return count
