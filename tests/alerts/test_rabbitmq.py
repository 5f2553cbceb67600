"""The engine runs on RabbitMQ as well as Redis: a worker on an AMQP broker takes the scan task
and mails a real SMTP server. (RabbitMQ runs on 127.0.0.1:5672; `.ci/run` starts it.)"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone

from tests.alerts.support import Worker, child_env, wait_until
from tracker.notifications.models import OutboxMessage, OutboxStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def amqp_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        pytest.fail(
            "RabbitMQ is not running on 127.0.0.1:5672 (start it: rabbitmq-server -detached)"
        )
    return AMQP_URL


def test_scan_task_through_rabbitmq_to_a_worker_and_smtp(amqp_url, smtp, team, tmp_path):
    late = team.node(timezone.now() - timedelta(hours=2), title="Price approval")
    queue = f"milepost-amqp-{uuid.uuid4().hex[:8]}"
    env = {**child_env(smtp, queue), "CELERY_BROKER_URL": amqp_url}
    worker = Worker(env, queue, tmp_path / "worker.log")
    sender = Celery("milepost-test-sender", broker=amqp_url)
    try:
        # An explicit connection: a CELERY_BROKER_URL in the environment (the SQLite run of
        # `make test` sets one) would otherwise win over the app's `broker` argument.
        with sender.connection_for_write(amqp_url) as connection:
            sender.send_task("alerts.scan_overdue", queue=queue, connection=connection)
        wait_until(lambda: len(smtp.handler.received) >= 1, timeout=30)
        wait_until(
            lambda: not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists(),
            timeout=30,
        )
    finally:
        worker.stop()
        with sender.connection_for_write(amqp_url) as conn:
            conn.default_channel.queue_delete(queue)
    received = {message.recipients[0]: message for message in smtp.handler.received}
    # The assignee hears at once; the lead at the ladder's second rung (docs/escalation.md).
    assert sorted(received) == ["lena@example.com"]
    assert f"/nodes/{late.pk}/" in received["lena@example.com"].body()
