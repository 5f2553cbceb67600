"""The outbox under faults: SMTP down then up, refusals, retry policy, chat endpoints answering
errors, racing flushes, and a worker killed in the middle of a send. Real SMTP and HTTP servers
on loopback, real PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app as celery_app
from tests.alerts.support import wait_until
from tests.factories import UserFactory
from tracker.alerts.services import alerts_scan
from tracker.notifications import outbox as outbox_module
from tracker.notifications.emails import message_id
from tracker.notifications.models import Channel, OutboxEvent, OutboxMessage, OutboxStatus
from tracker.notifications.outbox import (
    FlushResult,
    flush_budget,
    outbox_claim,
    outbox_flush,
    outbox_reclaim,
    retry_delay,
)
from tracker.notifications.services import outbox_queue, outbox_retry
from tracker.notifications.tasks import outbox_flush as outbox_flush_task
from tracker.notifications.transports import transport_for

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)


def queue_one_email(team) -> OutboxMessage:
    """An overdue node with no assignee: exactly one email, to the lead."""
    team.node(NOW - H, assignee=None, title="Price approval")
    alerts_scan(now=NOW)
    return OutboxMessage.objects.get()


def flush_at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return outbox_flush(budget_seconds=30)


def test_smtp_down_then_up_delivers_once(smtp, team):
    message = queue_one_email(team)
    smtp.stop()
    assert flush_at(NOW).retrying == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert "refused" in message.last_error.lower()
    assert NOW + timedelta(seconds=0.5) <= message.next_attempt_at <= NOW + timedelta(seconds=1)

    assert flush_at(NOW).sent == 0  # not due yet: nothing is hammered
    smtp.start()
    assert flush_at(NOW + timedelta(seconds=2)).sent == 1
    assert flush_at(NOW + H).sent == 0
    assert [r.recipients for r in smtp.handler.received] == [["li@example.com"]]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert message.subject == "1 new alert in Double 11"


def test_permanent_refusal_is_recorded_not_retried(smtp, team):
    smtp.handler.refuse_rcpt["li@example.com"] = "550 5.1.1 No such user"
    message = queue_one_email(team)
    assert flush_at(NOW).failed == 1
    assert flush_at(NOW + 48 * H) == FlushResult()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 1)
    assert message.last_error == "550 5.1.1 No such user"
    assert not smtp.handler.received


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "status"),
    [
        ("450 4.2.1 Mailbox busy", None, "pending"),
        (None, "451 4.3.0 Try again later", "pending"),
        (None, "554 5.7.1 Message rejected as spam", "failed"),
    ],
)
def test_smtp_answers_sorted_into_transient_and_permanent(
    smtp, team, rcpt_reply, data_reply, status
):
    if rcpt_reply:
        smtp.handler.refuse_rcpt["li@example.com"] = rcpt_reply
    smtp.handler.data_reply = data_reply
    message = queue_one_email(team)
    flush_at(NOW)
    message.refresh_from_db()
    assert message.status == status
    assert message.last_error == (rcpt_reply or data_reply)


def test_transient_failures_give_up_after_the_last_attempt(smtp, settings, team):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    smtp.handler.data_reply = "451 4.3.0 Try again later"
    message = queue_one_email(team)
    for hour in range(3):
        flush_at(NOW + hour * H)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 3)

    # An admin fixes the cause and sends it again.
    smtp.handler.data_reply = None
    assert outbox_retry(message_ids=[message.pk]) == 1
    assert flush_at(timezone.now() + timedelta(seconds=1)).sent == 1
    assert len(smtp.handler.received) == 1


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 15, 30), (2, 30, 60), (3, 60, 120), (8, 1800, 3600), (30, 1800, 3600)],
)
def test_retry_delay_doubles_with_jitter_up_to_the_cap(settings, attempts, low, high):
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    delays = {retry_delay(attempts) for _ in range(200)}
    assert all(low <= delay <= high for delay in delays)
    assert len(delays) > 100  # jittered, not one fixed value


# Chat rows go through the integrations' deliver_chat ------------------------------------------


class ChatEndpoint:
    """An HTTP server on loopback answering like a chat platform, with a script of answers."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, str, dict]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append({"headers": dict(self.headers), "body": json.loads(body)})
                status, text, headers = (
                    endpoint.answers.pop(0) if endpoint.answers else (200, "ok", {})
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    endpoint = ChatEndpoint()
    yield endpoint
    endpoint.close()


def test_chat_answers(chat, smtp, team):
    Channel.objects.create(
        name="Double 11 war room",
        kind="slack",
        url=chat.url,
        project=team.project,
        events=["overdue"],
    )
    chat.answers = [(503, "rollup_error", {"Retry-After": "120"}), (200, "ok", {})]
    team.node(NOW - H, title="Price approval")
    alerts_scan(now=NOW)
    message = OutboxMessage.objects.get(channel__isnull=False)

    flush_at(NOW)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.next_attempt_at >= NOW + timedelta(seconds=120)  # the server's Retry-After
    flush_at(NOW + 3 * timedelta(minutes=1))
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert len(chat.requests) == 2
    assert "Price approval" in json.dumps(chat.requests[-1]["body"], ensure_ascii=False)


def test_chat_rate_limit_waits_without_counting_an_attempt(chat, team):
    for name in ("room a", "room b"):
        Channel.objects.create(name=name, kind="slack", url=chat.url, events=["overdue"])
    team.node(NOW - 60 * H)  # an email to the assignee (overdue) and the lead (escalation)
    alerts_scan(now=NOW)
    # Both channels share one Slack webhook: one message a second.
    result = outbox_flush(budget_seconds=30)
    assert (result.sent, result.retrying) == (3, 1)  # two emails, one chat message
    waiting = OutboxMessage.objects.get(channel__isnull=False, status="pending")
    assert waiting.attempts == 0
    assert "rate limit" in waiting.last_error
    wait_until(lambda: outbox_flush(budget_seconds=5).sent, timeout=5, interval=0.2)
    assert len(chat.requests) == 2


def test_chat_permanent_refusal(chat, team):
    Channel.objects.create(name="gone", kind="slack", url=chat.url, events=["overdue"])
    chat.answers = [(404, "channel_not_found", {})]
    team.node(NOW - H)
    alerts_scan(now=NOW)
    flush_at(NOW)
    message = OutboxMessage.objects.get(channel__isnull=False)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 1)
    assert "channel_not_found" in message.last_error


def test_a_channel_whose_address_is_gone_is_switched_off(chat, team):
    channel = Channel.objects.create(name="gone", kind="slack", url=chat.url, events=["overdue"])
    chat.answers = [(410, "channel_is_archived", {})]
    team.node(NOW - H)
    alerts_scan(now=NOW)
    team.node(NOW + 30 * timedelta(minutes=1))  # due soon: follows the channel's next scan
    channel.events = ["overdue", "due_soon"]
    channel.save()
    flush_at(NOW)
    message = OutboxMessage.objects.get(channel__isnull=False)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 1)
    assert "channel_is_archived" in message.last_error
    assert "switched off" in message.last_error
    channel.refresh_from_db()
    assert not channel.is_active

    # Switched off, it is neither sent to nor queued for any more.
    assert alerts_scan(now=NOW + timedelta(minutes=1)).due_soon == 1
    assert OutboxMessage.objects.filter(channel__isnull=False).count() == 1
    assert len(chat.requests) == 1


# Claims: pending → sending → sent, committed around the send ----------------------------------


def queue_test_emails(count: int) -> list[OutboxMessage]:
    user = UserFactory(email="tess@example.com")
    return OutboxMessage.objects.bulk_create(
        OutboxMessage(event=OutboxEvent.TEST, recipient=user, dedupe_key=f"test:{n}")
        for n in range(count)
    )


def message_ids(smtp) -> list[str]:
    return [str(r.message["Message-ID"]) for r in smtp.handler.received]


def test_two_flushes_at_once_never_both_send_a_row(transactional_db, smtp, settings):
    """Each flush commits its claim before it sends, so the other one skips the row."""
    settings.OUTBOX_BATCH_SIZE = 5  # batches the two take turns at
    messages = queue_test_emails(40)
    results: list[FlushResult] = []
    start = threading.Barrier(2)

    def flush() -> None:
        start.wait()
        try:
            results.append(outbox_flush(budget_seconds=30))
        finally:
            connection.close()

    threads = [threading.Thread(target=flush) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in results) == 40
    assert all(r.sent for r in results), "one flush did all the work: no race was tried"
    assert sorted(message_ids(smtp)) == sorted(message_id(m) for m in messages)
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_the_claim_is_a_conditional_update_one_worker_wins(transactional_db):
    (message,) = queue_test_emails(1)
    claimed = outbox_claim(now=timezone.now())
    assert claimed.pk == message.pk
    assert (claimed.status, claimed.claimed_at is not None) == (OutboxStatus.SENDING, True)
    assert outbox_claim(now=timezone.now()) is None  # committed: no one else gets it


def test_a_send_cut_off_after_delivery_is_sent_again_with_the_same_message_id(
    transactional_db, smtp, settings
):
    """At least once: the worker delivered, then stopped before recording `sent`."""
    settings.OUTBOX_CLAIM_TIMEOUT_SECONDS = 600
    (message,) = queue_test_emails(1)
    claimed = outbox_claim(now=timezone.now())
    transport_for(claimed).send(claimed)  # delivered; the worker dies here

    assert outbox_flush(budget_seconds=5) == FlushResult()  # a fresh claim is left alone
    with time_machine.travel(timezone.now() + timedelta(seconds=601), tick=False):
        assert outbox_flush(budget_seconds=5) == FlushResult(sent=1, reclaimed=1)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert message_ids(smtp) == [message_id(message)] * 2


def test_a_sent_row_is_never_sent_again(transactional_db, smtp, settings):
    (message,) = queue_test_emails(1)
    assert outbox_flush(budget_seconds=5).sent == 1
    for later in (
        timedelta(minutes=1),
        timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS * 2),
    ):
        with time_machine.travel(timezone.now() + later, tick=False):
            assert outbox_flush(budget_seconds=5) == FlushResult()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert message_ids(smtp) == [message_id(message)]


def test_a_message_cut_off_on_its_last_attempt_fails(db, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    (message,) = queue_test_emails(1)
    long_ago = timezone.now() - timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS + 1)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.SENDING, claimed_at=long_ago, attempts=2
    )
    assert outbox_reclaim(now=timezone.now()) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 3)
    assert "cut off" in message.last_error


# A worker killed mid-send ---------------------------------------------------------------------


@pytest.mark.slow
def test_worker_killed_mid_send_sends_again_after_the_claim_timeout(
    transactional_db, smtp, team, celery_worker_factory, settings
):
    message = queue_one_email(team)
    smtp.handler.hold = threading.Event()
    worker = celery_worker_factory()
    outbox_flush_task.delay()
    assert smtp.handler.data_started.wait(20), "the worker never reached DATA"

    # The claim was committed before the send: the row says who has it, and nobody takes it.
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENDING, 0)
    assert outbox_flush(budget_seconds=1) == FlushResult()
    worker.kill()
    smtp.handler.hold.set()  # the server refuses the half-sent message
    smtp.handler.hold = None

    # Still `sending` (nothing rolls a committed claim back) until the claim times out.
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENDING
    later = message.claimed_at + timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert outbox_flush(budget_seconds=5) == FlushResult(sent=1, reclaimed=1)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    assert [r.recipients for r in smtp.handler.received] == [["li@example.com"]]
    assert message_ids(smtp) == [message_id(message)]


# Throughput: one SMTP connection per flush, batches, several flush tasks ----------------------


def test_a_flush_sends_all_its_emails_over_one_smtp_connection(transactional_db, smtp):
    messages = queue_test_emails(25)
    assert outbox_flush(budget_seconds=30) == FlushResult(sent=25)
    assert sorted(message_ids(smtp)) == sorted(message_id(m) for m in messages)
    assert smtp.handler.connections == 1
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_an_email_sent_on_its_own_opens_its_own_connection(transactional_db, smtp):
    """Outside a flush (no session) each send connects: what the flush saves."""
    queue_test_emails(2)
    for _ in range(2):
        claimed = outbox_claim(now=timezone.now())
        transport_for(claimed).send(claimed)
    assert (len(smtp.handler.received), smtp.handler.connections) == (2, 2)


def test_a_connection_the_server_closes_is_reopened_and_nothing_is_lost(transactional_db, smtp):
    smtp.handler.per_session = 4  # then 421, as servers that cap messages per connection do
    messages = queue_test_emails(10)
    assert outbox_flush(budget_seconds=30) == FlushResult(sent=10)
    assert sorted(message_ids(smtp)) == sorted(message_id(m) for m in messages)  # each once
    assert smtp.handler.connections == 3
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_flush_out_of_time_hands_its_claims_back_unattempted(transactional_db, smtp):
    queue_test_emails(15)
    assert outbox_flush(budget_seconds=0) == FlushResult(more=True)
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {("pending", 0)}
    assert not smtp.handler.received
    assert outbox_flush(budget_seconds=30) == FlushResult(sent=15)


def test_a_batch_stopped_mid_way_records_the_emails_it_sent(
    transactional_db, smtp, settings, monkeypatch
):
    """A batch's sent outcomes are recorded together when it ends, also when its worker stops
    mid-way: those sent are `sent` (never sent again), the rest stay claimed for the sweep."""
    queue_test_emails(5)
    calls: list[OutboxMessage] = []

    def stop_at_the_third(message: OutboxMessage):
        calls.append(message)
        if len(calls) == 3:
            raise SystemExit("the worker stops")
        return transport_for(message)

    monkeypatch.setattr(outbox_module, "transport_for", stop_at_the_third)
    with pytest.raises(SystemExit):
        outbox_flush(budget_seconds=30)
    statuses = OutboxMessage.objects.values_list("status", "attempts")
    assert sorted(statuses) == [("sending", 0)] * 3 + [("sent", 1)] * 2
    monkeypatch.undo()
    later = timezone.now() + timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert outbox_flush(budget_seconds=30) == FlushResult(sent=3, reclaimed=3)
    assert len(set(message_ids(smtp))) == len(message_ids(smtp)) == 5


def test_a_flush_claims_in_batches_and_runs_until_nothing_is_due(transactional_db, smtp, settings):
    settings.OUTBOX_BATCH_SIZE = 4
    queue_test_emails(11)
    assert outbox_flush(budget_seconds=30) == FlushResult(sent=11)
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 11


def queued_tasks(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def test_a_large_fan_out_queues_several_flush_tasks(transactional_db, settings, celery_queue):
    settings.OUTBOX_BATCH_SIZE, settings.OUTBOX_FLUSH_TASKS = 10, 4
    user = UserFactory(email="tess@example.com")
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(celery_queue)

    def queue(count: int, tag: str) -> int:
        return outbox_queue(
            [
                OutboxMessage(event=OutboxEvent.TEST, recipient=user, dedupe_key=f"{tag}:{n}")
                for n in range(count)
            ]
        )

    assert queue(25, "a") == 25
    assert queued_tasks(celery_queue) == 3  # one per batch of 10
    assert queue(500, "b") == 500
    assert queued_tasks(celery_queue) == 3 + 4  # at most OUTBOX_FLUSH_TASKS
    assert queue(1, "c") == 1
    assert queued_tasks(celery_queue) == 3 + 4 + 1
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(celery_queue)


def test_a_batch_of_alert_emails_is_rendered_from_two_queries(smtp, team, settings):
    """The renderers' reads are preloaded per claimed batch, and the batch's sends recorded in
    one UPDATE: a flush of many alert emails costs the same statements as a flush of one."""
    settings.OUTBOX_BATCH_SIZE = 50
    people = [UserFactory(email=f"p{n}@example.com") for n in range(8)]
    for person in people:
        team.node(NOW - H, assignee=person, title=f"Task of {person.username}")
    alerts_scan(now=NOW)
    emails = OutboxMessage.objects.filter(recipient__isnull=False).count()
    assert emails == len(people)  # each assignee (their lead hears at the ladder's second rung)
    with CaptureQueriesContext(connection) as captured:
        assert flush_at(NOW).sent == emails
    reads = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert sum('FROM "alerts_alert"' in sql for sql in reads) == 1
    assert sum('FROM "notifications_notificationpreference"' in sql for sql in reads) == 1
    records = [q["sql"] for q in captured if "UPDATE" in q["sql"] and "sent_at" in q["sql"]]
    assert len(records) == 1  # the batch's outcomes, together (one executemany)
    assert set(OutboxMessage.objects.filter(recipient__isnull=False).values_list("status")) == {
        ("sent",)
    }
    # The rest, whatever the number of emails: the sweep, one claim, the preload (alerts,
    # preferences, and the lateness episodes' stories in three), the check that nothing is left
    # (with the test's savepoints), and on PostgreSQL the session's synchronous_commit set and
    # reset.
    rest = [q["sql"] for q in captured if "synchronous_commit" not in q["sql"]]
    assert len(rest) - len(records) == 16, "\n".join(sql[:100] for sql in rest)
    assert {len(smtp.handler.to(f"p{n}@example.com")) for n in range(8)} == {1}


@pytest.mark.parametrize(
    ("timelimit", "soft_setting", "hard_setting", "budget"),
    [
        ((240, 300), 240, 300, 210),  # the task's own limits, less EMAIL_TIMEOUT (30 s)
        ((None, None), 240, 300, 210),  # none on the task: the settings'
        ((None, 100), None, None, 70),  # only a hard limit
        (None, None, 300, 270),
        ((None, None), None, None, None),  # no limit anywhere: until the queue is empty
        ((20, 30), 240, 300, 0),  # a limit shorter than one send: no send started
    ],
)
def test_a_flush_task_sends_until_its_soft_time_limit_less_one_send(
    settings, timelimit, soft_setting, hard_setting, budget
):
    settings.EMAIL_TIMEOUT, settings.WEBHOOK_TIMEOUT_SECONDS = 30, 15
    settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT = (
        soft_setting,
        hard_setting,
    )
    assert flush_budget(timelimit) == budget
