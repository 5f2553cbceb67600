"""One lateness episode over four simulated working days, through a real `celery worker` and
a real SMTP server: exactly the expected emails reach exactly the expected people (the
ladder's rungs, the assignee's daily nudges, then one resolution each)."""

from __future__ import annotations

from collections import Counter

import pytest
import time_machine
from django.utils import timezone

from tests.alerts.support import wait_until
from tests.alerts.test_ladder import at, setup_team
from tracker.alerts.services import alerts_scan
from tracker.milestones.services import milestone_update
from tracker.notifications.models import OutboxMessage, OutboxStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def scan_and_deliver(moment: str, worker, expected_sent: int) -> None:
    with time_machine.travel(at(moment), tick=False):
        alerts_scan(now=timezone.now())
    wait_until(
        lambda: (
            OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() >= expected_sent
            and not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
        ),
        timeout=60,
    )


def test_an_episode_over_four_working_days_emails_the_ladder(celery_worker, smtp):
    team = setup_team()
    node = team.node(at("2026-11-02 10:00"), title="Price approval")
    days = [
        ("2026-11-02 10:01", ["lena"]),  # overdue: the assignee
        ("2026-11-03 10:01", ["li", "lena"]),  # the lead's rung, the first nudge
    ]
    sent = 0
    for moment, people in days:
        sent += len(people)
        scan_and_deliver(moment, celery_worker, sent)
    with time_machine.travel(at("2026-11-03 15:00"), tick=False):
        milestone_update(
            milestone_id=node.pk, actor=team.assignee, data={"due_at": at("2026-11-05 18:00")}
        )
    for moment, people in [
        # Re-planned: nothing resolved, no new overdue notice, and no due-soon reminder of
        # the new date (Thu 18:00, within the window): the episode's nudges cover it.
        ("2026-11-03 15:01", []),
        ("2026-11-04 10:01", ["olga", "lena"]),  # the owner's rung, the second nudge
        ("2026-11-05 10:01", ["hou", "lena"]),  # the escalation contact, the third nudge
    ]:
        sent += len(people)
        scan_and_deliver(moment, celery_worker, sent)
    with time_machine.travel(at("2026-11-05 11:00"), tick=False):
        milestone_update(milestone_id=node.pk, actor=team.assignee, data={"status": "done"})
    sent += 4
    scan_and_deliver("2026-11-05 11:01", celery_worker, sent)  # resolved, to all four
    celery_worker.drain()

    received = smtp.handler.received
    by_person = Counter(r.recipients[0].split("@")[0] for r in received)
    assert by_person == {"lena": 5, "li": 2, "olga": 2, "hou": 2}
    assert len(received) == sent == 11
    owner = [r for r in received if r.recipients == ["olga@example.com"]]
    text = owner[0].body()
    assert "[Escalation to owner] Price approval" in text
    assert "re-planned once, now due" in text  # the re-plan shows on every later alert
    nudge = [r for r in received if r.recipients == ["lena@example.com"]][3]
    assert "[Still overdue] Price approval" in nudge.body()
    assert "Snooze 1 hour: https://milepost.example.com/snooze/" in nudge.body()
    assert all("Resolved" in r.body() for r in received[-4:])
