"""Two beats by mistake start each periodic job once per period: beat claims the period's run in
the database before it sends (PostgreSQL and SQLite alike), and what it sends expires when the
next run is due. Real schedulers (django-celery-beat's, ours) sending through the real broker to
a real worker process."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.celery import app as celery_app
from tests.alerts.support import Beat, wait_until
from tracker.core.beat import DatabaseScheduler, period_start
from tracker.core.models import PeriodicRun
from tracker.core.periodic import periodic_run_claim

pytestmark = [pytest.mark.django_db(transaction=True)]
PERIOD = 4  # seconds, of the interval jobs below


def interval_job(name: str, *, task: str = "ops.heartbeat", **fields) -> PeriodicTask:
    every, _ = IntervalSchedule.objects.get_or_create(every=PERIOD, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(name=name, task=task, interval=every, **fields)


def minute_job(name: str, task: str, **fields) -> PeriodicTask:
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    return PeriodicTask.objects.create(name=name, task=task, crontab=crontab, **fields)


def fire(beats: list[Beat]) -> list:
    """Every beat ticks, in threads of their own at the same moment. Returns what was sent."""
    barrier = threading.Barrier(len(beats))
    sent: list = []

    def tick(beat: Beat) -> None:
        try:
            barrier.wait()
            result = beat.tick()
            if result is not None:
                sent.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick, args=(beat,)) for beat in beats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sent


def sleep_into_period(seconds: float, *, offset: float) -> None:
    """Wait until `offset` seconds into a period of `seconds` (away from its edges)."""
    time.sleep((offset - time.time()) % seconds)


def runs(worker, task: str) -> int:
    return len(
        re.findall(rf"Task {re.escape(task)}\[[0-9a-f-]+\] succeeded", worker.log.read_text())
    )


def test_a_second_claim_for_the_period_is_a_no_op_logged_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="tracker.core.periodic")
    now = timezone.now()
    start = now.replace(second=0, microsecond=0)
    assert periodic_run_claim(task="Overdue scan", period_start=start, now=now)
    assert not periodic_run_claim(task="Overdue scan", period_start=start, now=now)
    assert "Overdue scan already started for the period from" in caplog.text
    assert periodic_run_claim(task="Outbox sweep", period_start=start, now=now)  # another task
    later = start + timedelta(minutes=1)
    assert periodic_run_claim(task="Overdue scan", period_start=later, now=now)
    # Claims older than a day go as new ones come.
    tomorrow = now + timedelta(days=1, minutes=2)
    assert periodic_run_claim(task="Overdue scan", period_start=tomorrow, now=tomorrow)
    assert sorted(PeriodicRun.objects.values_list("task", "period_start")) == [
        ("Outbox sweep", start),
        ("Overdue scan", tomorrow),
    ]


def test_periods_are_the_interval_or_the_minute():
    every_30s = IntervalSchedule(every=30, period=IntervalSchedule.SECONDS).schedule
    at = datetime(2026, 11, 2, 10, 0, 47, 500000, tzinfo=UTC)
    assert period_start(every_30s, at) == datetime(2026, 11, 2, 10, 0, 30, tzinfo=UTC)
    weekly = CrontabSchedule(minute="0", hour="9", day_of_week="1").schedule
    assert period_start(weekly, at) == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.slow
def test_three_beats_start_an_interval_job_once_per_period(celery_worker):
    interval_job("Heartbeat (test)")
    three = [Beat("Heartbeat (test)") for _ in range(3)]
    before = runs(celery_worker, "ops.heartbeat")

    sleep_into_period(PERIOD, offset=0.5)
    first = fire(three)
    assert len(first) == 1
    time.sleep(PERIOD + 0.3)  # the next period: each beat's entry is due again
    second = fire(three)
    assert len(second) == 1

    celery_worker.wait_for(*first, *second)
    celery_worker.drain()
    assert runs(celery_worker, "ops.heartbeat") - before == 2
    assert PeriodicRun.objects.filter(task="Heartbeat (test)").count() == 2


@pytest.mark.slow
def test_two_beats_start_the_minute_scan_once(celery_worker):
    minute_job("Overdue scan (test)", "alerts.scan_overdue")
    two = [Beat("Overdue scan (test)") for _ in range(2)]
    before = runs(celery_worker, "alerts.scan_overdue")
    if time.time() % 60 > 50:  # both inside one minute
        sleep_into_period(60, offset=1)

    sent = fire(two)
    assert len(sent) == 1
    celery_worker.wait_for(*sent)
    celery_worker.drain()
    assert runs(celery_worker, "alerts.scan_overdue") - before == 1


@pytest.fixture
def peek_queue(celery_queue):
    """A queue of this test's own, which no worker reads."""
    queue = f"{celery_queue}-peek-{uuid.uuid4().hex[:6]}"
    yield queue
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


def peek(queue: str):
    """The next message on `queue`, which no worker reads."""
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.basic_get(queue, no_ack=True)


def test_a_scheduled_task_expires_when_its_next_run_is_due(peek_queue):
    queue = peek_queue
    interval_job("Heartbeat (peek)", queue=queue)
    minute_job("Scan (peek)", "alerts.scan_overdue", queue=queue)
    weekly, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="9",
        day_of_week="1",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    PeriodicTask.objects.create(
        name="Report (peek)", task="reports.weekly", crontab=weekly, queue=queue
    )
    # Monday 2026-11-02 09:00:20 in Shanghai: the weekly report is due, the scan is 40 s old.
    at = datetime(2026, 11, 2, 1, 0, 20, tzinfo=UTC)
    expected = {
        "Heartbeat (peek)": at + timedelta(seconds=PERIOD),
        "Scan (peek)": datetime(2026, 11, 2, 1, 1, tzinfo=UTC),
        "Report (peek)": datetime(2026, 11, 9, 1, 0, tzinfo=UTC),
    }
    with time_machine.travel(at, tick=False):
        scheduler = DatabaseScheduler(app=celery_app)  # it loads the crontabs of this hour
        for name in expected:
            assert scheduler.apply_async(scheduler.schedule[name], advance=False) is not None
    for name, expires in expected.items():
        message = peek(queue)
        assert message.headers["task"] == PeriodicTask.objects.get(name=name).task
        assert datetime.fromisoformat(message.headers["expires"]) == expires, name


def test_an_admins_expiry_is_kept(peek_queue):
    queue = peek_queue
    interval_job("Heartbeat (kept)", queue=queue, expire_seconds=3600)
    scheduler = DatabaseScheduler(app=celery_app)
    now = timezone.now()
    assert scheduler.apply_async(scheduler.schedule["Heartbeat (kept)"], advance=False)
    expires = datetime.fromisoformat(peek(queue).headers["expires"])
    assert now + timedelta(minutes=59) < expires < now + timedelta(minutes=61)


@pytest.mark.slow
def test_a_scheduled_task_that_waited_past_its_next_run_is_dropped(celery_worker):
    """While no worker ran, the job was sent every period: the worker that comes back drops
    the stale ones instead of running them all."""
    interval_job("Heartbeat (stale)")
    beat = Beat("Heartbeat (stale)")
    with time_machine.travel(timezone.now() - timedelta(minutes=10), tick=False):
        stale = beat.tick()
    log = celery_worker.log
    wait_until(lambda: f"Discarding revoked task: ops.heartbeat[{stale.id}]" in log.read_text())
    celery_worker.drain()
    assert not celery_worker.finished(stale.id)
