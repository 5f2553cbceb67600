"""The whole path with real parts: the beat's tasks go through Redis to a `celery worker`
process, which scans the test database and mails a real SMTP server on loopback. Then several
processes scan at the same moment, without the advisory lock."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.alerts.support import REPO, child_env, establish, wait_until
from tests.factories import ProjectFactory
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.tasks import scan_due_soon, scan_overdue
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.projects.models import ProjectStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
H = timedelta(hours=1)


def sent(count: int) -> list[OutboxMessage]:
    wait_until(
        lambda: (
            OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() >= count
            and not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
        ),
        timeout=30,
    )
    return list(OutboxMessage.objects.all())


def test_beat_tasks_through_redis_to_a_worker_and_smtp(celery_worker, smtp, team):
    now = timezone.now()
    other = establish(
        ProjectFactory(owner=team.owner, name="618 Launch", status=ProjectStatus.ACTIVE)
    )
    late = team.node(now - 2 * H, title="Price approval")
    stuck = team.node(now - 60 * H, title="Stock check", project=other)
    soon = team.node(now + 3 * H, title="Banner copy")

    scan_overdue.delay()
    sent(2)
    by_address = {r.recipients[0]: r for r in smtp.handler.received}
    # The ladder: the assignee at overdue, the lead at the second rung (the owner's is far).
    assert sorted(by_address) == ["lena@example.com", "li@example.com"]
    assert len(smtp.handler.received) == 2  # one email each, however many alerts

    assignee = by_address["lena@example.com"]
    assert assignee.subject == "2 new alerts in 618 Launch, Double 11"
    text = assignee.body()
    assert text.count("Stock check") == 1
    assert text.index("[Overdue] Stock check") < text.index("[Overdue] Price approval")
    for node in (late, stuck):
        assert f"https://milepost.example.com/nodes/{node.pk}/" in text
        assert f'href="https://milepost.example.com/nodes/{node.pk}/"' in assignee.body("html")
    lead = by_address["li@example.com"]
    assert lead.subject == "1 new alert in 618 Launch"
    assert "[Escalation] Stock check" in lead.body()

    smtp.reset()
    scan_due_soon.delay()
    sent(3)
    (reminder,) = smtp.handler.received
    assert reminder.recipients == ["lena@example.com"]
    assert reminder.subject == "1 new alert in Double 11"
    assert f"https://milepost.example.com/nodes/{soon.pk}/" in reminder.body()

    # The beat runs again a minute later: nothing new, nothing resent.
    smtp.reset()
    celery_worker.wait_for(scan_overdue.delay(), scan_due_soon.delay())
    celery_worker.drain()  # and whatever they would have queued
    assert not smtp.handler.received
    assert OutboxMessage.objects.count() == 3


# A racer says it is ready (a file), then waits for the word go (a line on its stdin): they
# all scan at the same moment however long each took to start, and none waits longer.
RACER = """
import json, sys, time
from pathlib import Path
import django
django.setup()
from datetime import datetime
from django.db import transaction
from tracker.alerts.services import ScanLock, alerts_scan
now = datetime.fromisoformat(sys.argv[1])
Path(sys.argv[2]).touch()
sys.stdin.readline()
with transaction.atomic():
    result = alerts_scan(now=now, lock=ScanLock.NONE)
    time.sleep(0.3)  # keep the transaction open: the others run into its uncommitted rows
print(json.dumps(result.as_dict()))
"""


def test_racing_scans_alert_and_email_once(celery_worker, smtp_server, smtp, team, tmp_path):
    now = timezone.now()
    nodes = [team.node(now - (i + 1) * H, title=f"Late {i}") for i in range(5)]
    nodes.append(team.node(now - 50 * H, title="Very late", assignee=None))
    nodes.append(team.node(now + H, title="Soon"))

    env = child_env(smtp_server, celery_worker.queue)
    ready = [tmp_path / f"racer-{i}-ready" for i in range(4)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, now.isoformat(), str(flag)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    wait_until(
        lambda: all(f.exists() for f in ready) or any(r.poll() is not None for r in racers),
        timeout=120,
        interval=0.02,
    )
    for racer in racers:  # go (one that died says why below)
        if racer.poll() is None:
            racer.stdin.write("go\n")
            racer.stdin.flush()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=60)
        assert racer.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert sum(r["overdue"] for r in results) == 6
    assert sum(r["escalated"] for r in results) == 1
    assert sum(r["due_soon"] for r in results) == 1
    assert Alert.objects.count() == 8
    assert set(Alert.objects.values_list("kind", flat=True)) == {
        AlertKind.OVERDUE,
        AlertKind.ESCALATION,
        AlertKind.DUE_SOON,
    }
    messages = sent(2)
    assert len(messages) == 2 == sum(r["messages"] for r in results)
    celery_worker.drain()  # every send the racers queued has run: no duplicate is on its way
    assert sorted(r.recipients[0] for r in smtp.handler.received) == [
        "lena@example.com",
        "li@example.com",
    ]
