"""Beat's minute sweep recovers every outbox state a killed worker can leave, with nothing but
itself: no task of the killed worker is given back (Redis would, an hour later). Real beat
scheduler, real broker, real worker processes, a real SMTP server.

- `pending`, never enqueued: the worker was killed after the scan committed, before the send
  task was queued (or the send task was lost with it);
- `pending` with a retry due: the worker recorded a transient failure, then stopped;
- `sending`: the worker was killed mid-send, its claim goes stale.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from tests.alerts.support import Beat, Worker, child_env, wait_until
from tests.factories import UserFactory
from tracker.notifications.models import OutboxEvent, OutboxMessage, OutboxStatus
from tracker.notifications.tasks import outbox_flush as outbox_flush_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SWEEP = "Outbox sweep (recovery)"


@pytest.fixture
def sweep():
    """Beat's every-minute outbox sweep, as the schedule migration makes it."""
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    PeriodicTask.objects.create(name=SWEEP, task="notifications.outbox_flush", crontab=crontab)
    return Beat(SWEEP)


def an_email(**fields) -> OutboxMessage:
    user = UserFactory(email="tess@example.com")
    return OutboxMessage.objects.create(
        event=OutboxEvent.TEST, recipient=user, dedupe_key="test:recovery", **fields
    )


def message_ids(smtp) -> list[str]:
    """The Message-IDs received: the row's id at the worker's SITE_URL host, on every try."""
    return [str(r.message["Message-ID"]) for r in smtp.handler.received]


def swept(worker: Worker, beat: Beat, message: OutboxMessage) -> OutboxMessage:
    """Beat sends its sweep; the worker runs it."""
    worker.wait_for(beat.tick())
    message.refresh_from_db()
    return message


def test_a_pending_row_never_enqueued_is_sent_by_the_sweep(celery_worker_factory, smtp, sweep):
    message = an_email()  # committed, and no send task queued for it
    message = swept(celery_worker_factory(), sweep, message)
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert message_ids(smtp) == [f"<{message.pk}@milepost.example.com>"]


def test_a_pending_retry_whose_worker_stopped_is_sent_by_the_sweep(
    celery_worker_factory, smtp, sweep
):
    message = an_email(
        attempts=1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
        last_error="421 Service not available",
    )
    message = swept(celery_worker_factory(), sweep, message)
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 2, "")
    assert len(smtp.handler.received) == 1


def test_a_row_left_sending_by_a_killed_worker_is_sent_by_the_sweep(
    smtp, smtp_server, celery_queue, tmp_path, sweep
):
    """Workers whose claims go stale after 2 seconds: the first is killed mid-send, the second
    runs beat's next sweep, which puts the row back and sends it, with the same Message-ID."""
    env = {**child_env(smtp_server, celery_queue), "OUTBOX_CLAIM_TIMEOUT_SECONDS": "2"}
    message = an_email()
    smtp.handler.hold = threading.Event()
    killed = Worker(env, celery_queue, tmp_path / "killed.log")
    try:
        outbox_flush_task.delay()
        assert smtp.handler.data_started.wait(20), "the worker never reached DATA"
        killed.kill()
    finally:
        killed.stop()
    smtp.handler.hold.set()  # the server refuses the half-sent message
    smtp.handler.hold = None
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENDING

    survivor = Worker(env, celery_queue, tmp_path / "survivor.log")
    try:
        wait_until(lambda: message.claimed_at < timezone.now() - timedelta(seconds=2.5))
        message = swept(survivor, sweep, message)
    finally:
        survivor.stop()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert "cut off" not in message.last_error
    assert message_ids(smtp) == [f"<{message.pk}@milepost.example.com>"]
