"""Sending the outbox: emails over SMTP, chat messages through `deliver_chat`.

A message is claimed with `SELECT … FOR UPDATE SKIP LOCKED` and sent inside that transaction:
two workers never send the same row, and a worker killed mid-send leaves its row pending (the
database rolls the claim back), so the next flush sends it. Transient failures come back after
an exponential, jittered delay; permanent ones stay in the admin with their error.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.alerts.chat import chat_payload
from tracker.alerts.emails import send_email
from tracker.alerts.models import OutboxMessage, OutboxStatus
from tracker.core.delivery import (
    DestinationGoneError,
    NothingToSend,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
)

logger = logging.getLogger(__name__)


@dataclass
class FlushResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def outbox_flush_after_commit() -> None:
    """Ask a worker to flush the outbox once the current transaction commits."""

    def enqueue() -> None:
        from tracker.alerts.tasks import outbox_flush

        outbox_flush.delay()

    # robust: a broker hiccup must not fail the caller; the every-minute sweep catches up.
    transaction.on_commit(enqueue, robust=True)


def retry_delay(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from the base, capped, with jitter so
    messages that failed together do not all come back together."""
    ceiling = min(
        settings.OUTBOX_RETRY_MAX_SECONDS,
        settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def outbox_flush(*, budget_seconds: float | None = None) -> FlushResult:
    """Send due messages one by one until none is left or the time budget is spent."""
    budget = settings.OUTBOX_FLUSH_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    result = FlushResult()
    while time.monotonic() < deadline:
        with transaction.atomic():
            message = (
                OutboxMessage.objects.due(timezone.now())
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient", "channel")
                .order_by("next_attempt_at")
                .first()
            )
            if message is None:
                break
            status = _attempt(message, now=timezone.now())
        setattr(result, status, getattr(result, status) + 1)
    return result


def outbox_send(*, message_id) -> str | None:
    """Send one message now if it is pending and nobody else is sending it; return its status."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.PENDING)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient", "channel")
            .first()
        )
        if message is None:
            return None
        _attempt(message, now=timezone.now())
        return message.status


def outbox_retry(*, message_ids: Iterable) -> int:
    """Send failed messages, or ones waiting for their next attempt, as soon as possible (the
    admin's action); sent, merged and held ones are left alone."""
    with transaction.atomic():
        count = (
            OutboxMessage.objects.filter(pk__in=list(message_ids))
            .filter(status__in=[OutboxStatus.FAILED, OutboxStatus.PENDING])
            .update(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
        )
        if count:
            outbox_flush_after_commit()
    return count


def _transport(message: OutboxMessage) -> str:
    if message.channel_id is None:
        return send_email(message)
    if not message.channel.is_active:
        raise PermanentDeliveryError(_("The channel is switched off."))
    from tracker.integrations.delivery import deliver_chat

    return deliver_chat(
        channel=message.channel, payload=chat_payload(message), idempotency_key=str(message.pk)
    )


def _switch_off_channel(message: OutboxMessage) -> None:
    """The channel's address is gone: stop sending to it (its other messages then fail at
    once) until someone gives it a new address and switches it on again."""
    from tracker.integrations.services import channel_switch_off

    if channel_switch_off(channel_id=message.channel_id):
        logger.warning("Channel %s answered 410 Gone: switched off", message.channel_id)
    message.last_error += " " + _("The channel is switched off: its address is gone.")


def _attempt(message: OutboxMessage, *, now: datetime) -> str:
    """Try `message` once and record the outcome; returns the FlushResult field to count."""
    outcome = "sent"
    try:
        # A savepoint: a database error while rendering leaves the claim usable for the record.
        with transaction.atomic():
            message.response = _transport(message)[:2000]
    except NothingToSend:
        message.status, outcome = OutboxStatus.SKIPPED, "skipped"
    except RateLimitedError as exc:
        # Our own rate limit: wait for the slot, it is not a failed attempt.
        message.next_attempt_at = now + timedelta(seconds=exc.retry_after or 1)
        message.last_error = str(exc)
        outcome = "retrying"
    except PermanentDeliveryError as exc:
        message.attempts += 1
        message.status, message.last_error, outcome = OutboxStatus.FAILED, str(exc), "failed"
        if isinstance(exc, DestinationGoneError) and message.channel_id is not None:
            _switch_off_channel(message)
    except Exception as exc:  # TransientDeliveryError, or a bug that must not block the queue
        if not isinstance(exc, TransientDeliveryError):
            logger.exception("Outbox message %s raised an unexpected error", message.pk)
        message.attempts += 1
        message.last_error = str(exc) or type(exc).__name__
        if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            message.status, outcome = OutboxStatus.FAILED, "failed"
        else:
            wait = max(retry_delay(message.attempts), getattr(exc, "retry_after", None) or 0)
            message.next_attempt_at = now + timedelta(seconds=wait)
            outcome = "retrying"
    else:
        message.attempts += 1
        message.status, message.sent_at, message.last_error = OutboxStatus.SENT, now, ""
    message.save(
        update_fields=[
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "subject",
            "response",
            "sent_at",
        ]
    )
    log = logger.warning if outcome in ("retrying", "failed") else logger.info
    log("Outbox %s %s → %s %s", message.event, message.pk, outcome, message.last_error)
    return outcome
