"""Sending the outbox: each message by the transport of its kind (email built in, chat
registered by `integrations`), between two short transactions, none of them open during it.

1. Claim a batch (OUTBOX_BATCH_SIZE): one conditional UPDATE (`status='sending',
   claimed_at=now WHERE id IN (…) AND status='pending'`) in one transaction, committed. One
   worker wins a row: on PostgreSQL the candidates are picked with `FOR UPDATE SKIP LOCKED`, so
   racing workers take different rows and hold theirs locked until the UPDATE commits; on
   SQLite, which has no row locks (and ignores that clause), the `IMMEDIATE` transaction makes
   writers take turns.
2. Prepare the batch: each transport may load what its sends will read for the whole batch
   at once (email: the alerts and preferences the renderers read, a few queries per batch).
3. Send each, outside any transaction; the emails of a whole flush share one SMTP connection
   (the transports' sessions).
4. Record the outcomes: the batch's `sent` ones together, one UPDATE committed once the
   batch's sends are done (or cut short); any other right after its send, committed on its
   own: back to `pending` for a later attempt (an exponential, jittered delay), or `failed`
   (permanent errors stay in the admin). One statement per email was most of a flush's time
   waiting on the database.

A flush claims batch after batch until nothing is due. After a large scan several flush tasks
share the queue (`outbox_flush_after_commit`). The only stop short of an empty queue is the
task's time limit: a flush task sends until its soft time limit less one send's longest wait
(`flush_budget`), then hands its unattempted claims back and queues the next flush at once
(`more`), so the limit never cuts a send in half.

The guarantee: every message is delivered, or ends `failed` with its error. A row is never sent
twice by racing workers, and never again once `sent` is recorded. A worker that stops between
claim and record (killed, or its machine lost) leaves the row `sending`; the sweep puts it back
once its claim is older than OUTBOX_CLAIM_TIMEOUT_SECONDS (longer than any send takes), counting
the lost attempt. So a message cut off mid-send, or sent by a worker that stopped before its
batch's record (at most OUTBOX_BATCH_SIZE of them), may reach its recipient twice, with the
same Message-ID (email) or idempotency key (chat), for the receiver to drop; it is never re-sent
every minute while it stays pending.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import Error, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.core.delivery import (
    DestinationGoneError,
    NothingToSend,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
)
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.notifications.transports import (
    transport_for,
    transport_sessions,
    transports_prepare,
)

logger = logging.getLogger(__name__)

# What recording an attempt writes.
RECORDED = ("status", "attempts", "next_attempt_at", "last_error", "subject", "response", "sent_at")
SENT_RECORDED = ("status", "attempts", "last_error", "subject", "response", "sent_at")


@dataclass
class FlushResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    reclaimed: int = 0
    more: bool = False  # stopped short of its task's time limit with messages still due

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def retry_delay(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from the base, capped, with jitter so
    messages that failed together do not all come back together."""
    ceiling = min(
        settings.OUTBOX_RETRY_MAX_SECONDS,
        settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def outbox_flush(*, budget_seconds: float | None = None) -> FlushResult:
    """Put back the messages cut off mid-send, then send due messages, batch after batch, until
    none is due. With `budget_seconds` (the task's time before its worker's time limit) it stops
    short of that, `more` set and its unattempted claims handed back."""
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    # A batch's claims must stay far younger than the claim timeout, or the sweep would hand
    # them to another worker while they wait here.
    claim_life = settings.OUTBOX_CLAIM_TIMEOUT_SECONDS / 2
    result = FlushResult(reclaimed=outbox_reclaim(now=timezone.now()))
    with transport_sessions(), _commits_not_waiting_for_disk():
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                result.more = _still_due()
                return result
            batch = outbox_claim_batch(now=timezone.now(), size=settings.OUTBOX_BATCH_SIZE)
            if not batch:
                return result
            transports_prepare(batch)
            claimed = time.monotonic()
            sent: list[OutboxMessage] = []  # recorded together when the batch is done
            try:
                for index, message in enumerate(batch):
                    now = time.monotonic()
                    if (deadline is not None and now >= deadline) or now - claimed >= claim_life:
                        outbox_release(batch[index:])  # the rest is claimed afresh, or by others
                        break
                    status = _attempt(message, sent=sent)
                    setattr(result, status, getattr(result, status) + 1)
            finally:
                _record_sent(sent)


def flush_budget(timelimit: tuple[float | None, float | None] | None) -> float | None:
    """Seconds a flush task may send for: up to its soft time limit (the task's `timelimit`, else
    the settings') less one send's longest wait, so the limit never cuts a send in half (which
    could deliver it twice); None when no limit is set."""
    soft, hard = timelimit or (None, None)
    limit = soft or hard or settings.CELERY_TASK_SOFT_TIME_LIMIT or settings.CELERY_TASK_TIME_LIMIT
    if not limit:
        return None
    return max(limit - max(settings.EMAIL_TIMEOUT or 0, settings.WEBHOOK_TIMEOUT_SECONDS), 0)


def _still_due() -> bool:
    return OutboxMessage.objects.due(timezone.now()).exists()


@contextmanager
def _commits_not_waiting_for_disk() -> Iterator[None]:
    """On PostgreSQL, the flush's commits (its claims and outcomes) return without waiting for
    their WAL to reach the disk (`synchronous_commit = off`): that wait was most of a record's
    time. What it risks is the outcomes of the last fraction of a second if PostgreSQL itself
    crashes: those rows are left `sending` (or `pending`) and sent again, with the same
    Message-ID, as for a worker killed mid-send; racing workers still never both send one."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with suppress(Error), connection.cursor() as cursor:  # a broken connection
            cursor.execute("RESET synchronous_commit")  # is not reused: nothing to reset


def outbox_reclaim(*, now: datetime) -> int:
    """Messages whose claim is older than the claim timeout were cut off mid-send: due again
    now (the lost send counts as an attempt), or failed if it was the last. Returns how many."""
    timeout = timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS)
    with transaction.atomic():
        count = OutboxMessage.objects.cut_off(claimed_before=now - timeout).update(
            status=Case(
                When(
                    attempts__gte=settings.OUTBOX_MAX_ATTEMPTS - 1, then=Value(OutboxStatus.FAILED)
                ),
                default=Value(OutboxStatus.PENDING),
            ),
            attempts=F("attempts") + 1,
            next_attempt_at=now,
            last_error=_("The send was cut off: its worker stopped."),
        )
    if count:
        logger.warning("Outbox: %s message(s) cut off mid-send put back", count)
    return count


def outbox_claim(*, now: datetime) -> OutboxMessage | None:
    """Claim the next due message for this worker, committed; None when nothing is due."""
    batch = outbox_claim_batch(now=now, size=1)
    return batch[0] if batch else None


def outbox_claim_batch(*, now: datetime, size: int) -> list[OutboxMessage]:
    """Claim up to `size` due messages for this worker, committed, oldest due first; an empty
    list when nothing is due. One conditional UPDATE claims the candidates, which this
    transaction holds locked (PostgreSQL) or alone writes (SQLite)."""
    while True:
        with transaction.atomic():
            candidates = list(
                OutboxMessage.objects.due(now)
                .select_for_update(skip_locked=True)  # PostgreSQL; SQLite leaves it out
                .order_by("next_attempt_at", "pk")
                .values_list("pk", flat=True)[:size]
            )
            if not candidates:
                return []
            OutboxMessage.objects.due(now).filter(pk__in=candidates).update(
                status=OutboxStatus.SENDING, claimed_at=now
            )
            won = list(
                OutboxMessage.objects.filter(
                    pk__in=candidates, status=OutboxStatus.SENDING, claimed_at=now
                )
                .select_related("recipient", "channel")
                .order_by("next_attempt_at", "pk")
            )
        if won:  # else other workers claimed them all between the statements: take the next
            return won


def outbox_release(messages: list[OutboxMessage]) -> int:
    """Hand back claimed messages this worker will not attempt (no attempt is counted), while
    their claim is still ours."""
    released = 0
    with transaction.atomic():
        for message in messages:
            released += OutboxMessage.objects.filter(
                pk=message.pk, status=OutboxStatus.SENDING, claimed_at=message.claimed_at
            ).update(status=OutboxStatus.PENDING)
    return released


def _record_sent(messages: list[OutboxMessage]) -> None:
    """Record that `messages` were sent, whatever happened to their rows since (as `_attempt`
    records one): one UPDATE by id, executed for all of them at once in one transaction
    (psycopg pipelines it: one round trip). `bulk_update`'s CASE per field and row cost more
    CPU than the sends."""
    if not messages:
        return
    meta, quote = OutboxMessage._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in SENT_RECORDED]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET"
        f" {', '.join(f'{quote(field.column)} = %s' for field in fields)}"
        f" WHERE {quote(meta.pk.column)} = %s"
    )
    rows = [
        [field.get_db_prep_save(getattr(message, field.attname), connection) for field in fields]
        + [meta.pk.get_db_prep_value(message.pk, connection)]
        for message in messages
    ]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _attempt(message: OutboxMessage, *, sent: list[OutboxMessage] | None = None) -> str:
    """Send the claimed `message` once and record the outcome; returns the FlushResult field
    to count. With `sent`, a successful send is added to it for the caller to record
    (`_record_sent`) rather than recorded here."""
    transport = gone = None
    outcome = "sent"
    try:
        transport = transport_for(message)
        message.response = transport.send(message)[:2000]
    except NothingToSend:
        message.status, outcome = OutboxStatus.SKIPPED, "skipped"
    except RateLimitedError as exc:
        # Our own rate limit: wait for the slot, it is not a failed attempt.
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = timezone.now() + timedelta(seconds=exc.retry_after or 1)
        message.last_error = str(exc)
        outcome = "retrying"
    except PermanentDeliveryError as exc:
        message.attempts += 1
        message.status, message.last_error, outcome = OutboxStatus.FAILED, str(exc), "failed"
        if isinstance(exc, DestinationGoneError) and transport and transport.destination_gone:
            gone = transport.destination_gone
    except Exception as exc:  # TransientDeliveryError, or a bug that must not block the queue
        if not isinstance(exc, TransientDeliveryError):
            logger.exception("Outbox message %s raised an unexpected error", message.pk)
        message.attempts += 1
        message.last_error = str(exc) or type(exc).__name__
        if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            message.status, outcome = OutboxStatus.FAILED, "failed"
        else:
            wait = max(retry_delay(message.attempts), getattr(exc, "retry_after", None) or 0)
            message.status = OutboxStatus.PENDING
            message.next_attempt_at = timezone.now() + timedelta(seconds=wait)
            outcome = "retrying"
    else:
        message.attempts += 1
        message.status, message.last_error = OutboxStatus.SENT, ""
        message.sent_at = timezone.now()
    if outcome == "sent" and sent is not None:
        sent.append(message)
        logger.info("Outbox %s %s → sent", message.event, message.pk)
        return outcome
    rows = OutboxMessage.objects.filter(pk=message.pk)
    if outcome != "sent":
        # Only while the claim is still ours: once the sweep gave the row to another worker,
        # that worker records it. A send that succeeded is recorded whatever happened since.
        rows = rows.filter(status=OutboxStatus.SENDING, claimed_at=message.claimed_at)
    if gone is None:
        recorded = rows.update(**_recorded(message))  # one statement: its own transaction
    else:
        with transaction.atomic():
            gone(message)  # says so in the message's error
            recorded = rows.update(**_recorded(message))
    if not recorded:
        logger.warning(
            "Outbox %s: claim lost before its outcome (%s) was recorded", message.pk, outcome
        )
    log = logger.warning if outcome in ("retrying", "failed") else logger.info
    log("Outbox %s %s → %s %s", message.event, message.pk, outcome, message.last_error)
    return outcome


def _recorded(message: OutboxMessage) -> dict:
    return {field: getattr(message, field) for field in RECORDED}
