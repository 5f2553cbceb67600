"""The in-app inbox: the scan's fan-out writes an item per person and alert, at once whatever
their email delivery, by the same recipients as the emails and the in-app column of the
preferences; reading, marking read and the retention purge."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from tests.alerts.support import make_team
from tests.factories import UserFactory
from tracker.alerts.models import Alert
from tracker.alerts.services import alerts_scan
from tracker.notifications.inbox import (
    inbox_items,
    inbox_mark_read,
    inbox_notify,
    inbox_purge,
    inbox_unread_count,
)
from tracker.notifications.models import Delivery, InboxItem, PreferenceChannel
from tracker.notifications.preferences import preferences_save

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)
EMAIL, IN_APP = PreferenceChannel.EMAIL, PreferenceChannel.IN_APP

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return make_team()


def scan(now=NOW) -> None:
    with time_machine.travel(now, tick=False):
        alerts_scan(now=timezone.now())


def items_of(user) -> list[tuple[str, str]]:
    return sorted(InboxItem.objects.filter(recipient=user).values_list("kind", "milestone__title"))


def test_the_scan_fills_the_inbox_of_the_people_its_emails_go_to(team):
    team.node(NOW - H, title="Price approval")  # overdue: the assignee (the ladder's rung 1)
    team.node(NOW - 60 * H, title="Stock check")  # and the lead's rung 2 (escalation)
    team.node(NOW + 2 * H, title="Banner copy")  # due soon: assignee
    scan()

    assert items_of(team.assignee) == [
        ("due_soon", "Banner copy"),
        ("overdue", "Price approval"),
        ("overdue", "Stock check"),
    ]
    assert items_of(team.lead) == [("escalation", "Stock check")]
    assert items_of(team.owner) == []  # the owner's rung is far off
    item = InboxItem.objects.get(recipient=team.lead)
    assert item.alert == Alert.objects.get(kind="escalation")
    assert item.project == team.project and item.read_at is None


def test_a_digest_reader_sees_the_item_at_once(team):
    preferences_save(
        user=team.assignee,
        choices={("overdue", EMAIL): Delivery.DIGEST, ("due_soon", EMAIL): Delivery.OFF},
    )
    team.node(NOW - H, title="Price approval")
    team.node(NOW + 2 * H, title="Banner copy")
    scan()
    assert items_of(team.assignee) == [("due_soon", "Banner copy"), ("overdue", "Price approval")]


@pytest.mark.parametrize(
    ("silence", "expected"),
    [
        ("in_app_off", []),
        ("muted", [("overdue", "Price approval")]),  # muting silences the pushes only
        ("inactive", []),
    ],
)
def test_who_hears_nothing_in_the_app(team, silence, expected):
    if silence == "in_app_off":
        preferences_save(user=team.assignee, choices={("overdue", IN_APP): Delivery.OFF})
    elif silence == "muted":
        team.assignee.muted_projects.add(team.project)
    else:
        team.assignee.is_active = False
        team.assignee.save(update_fields=["is_active"])
    team.node(NOW - 60 * H, title="Price approval")
    scan()
    assert items_of(team.assignee) == expected
    assert items_of(team.lead) == [("escalation", "Price approval")]


def test_in_app_off_for_one_kind_leaves_the_others(team):
    preferences_save(user=team.assignee, choices={("overdue", IN_APP): Delivery.OFF})
    team.node(NOW - H, title="Price approval")
    team.node(NOW + 2 * H, title="Banner copy")
    scan()
    assert items_of(team.assignee) == [("due_soon", "Banner copy")]


def test_a_rescan_writes_no_item_twice(team):
    team.node(NOW - H, title="Price approval")
    scan()
    scan(NOW + timedelta(minutes=1))
    assert InboxItem.objects.filter(recipient=team.assignee).count() == 1


def test_a_resolution_reaches_whoever_was_told_of_the_problem(team):
    node = team.node(NOW - 60 * H, title="Price approval")
    scan()
    node.status = "done"
    node.completed_at = NOW
    node.save()
    scan(NOW + 20 * timedelta(minutes=1))
    assert ("resolved", "Price approval") in items_of(team.lead)


def test_notify_leaves_out_the_actor_and_those_who_said_no(team):
    node = team.node(NOW + 48 * H, title="Price approval")
    preferences_save(user=team.lead, choices={("comment", IN_APP): Delivery.OFF})
    written = inbox_notify(
        recipients=[team.assignee, team.lead, team.owner],
        kind="comment",
        milestone=node,
        actor=team.owner,
        text="x" * 400,
    )
    assert [item.recipient for item in written] == [team.assignee]
    (item,) = written
    assert len(item.text) == 300 and item.text.endswith("…")


def test_read_unread_and_mark_all_touch_only_my_items(team):
    node = team.node(NOW + 48 * H)
    mine = inbox_notify(recipients=[team.assignee], kind="mention", milestone=node)
    inbox_notify(recipients=[team.assignee], kind="comment", milestone=node)
    theirs = inbox_notify(recipients=[team.lead], kind="mention", milestone=node)
    assert inbox_unread_count(user=team.assignee) == 2

    assert inbox_mark_read(user=team.assignee, item_ids=[theirs[0].pk]) == 0
    assert inbox_mark_read(user=team.assignee, item_ids=[mine[0].pk]) == 1
    assert inbox_mark_read(user=team.assignee, item_ids=[mine[0].pk]) == 0  # already read
    assert inbox_unread_count(user=team.assignee) == 1
    assert inbox_mark_read(user=team.assignee) == 1
    assert inbox_unread_count(user=team.assignee) == 0
    assert inbox_unread_count(user=team.lead) == 1
    assert [i.kind for i in inbox_items(user=team.assignee)] == ["comment", "mention"]


def test_the_purge_keeps_the_retention_period(team, settings):
    settings.INBOX_RETENTION_DAYS = 90
    node = team.node(NOW + 48 * H)
    now = timezone.now()
    inbox_notify(
        recipients=[team.assignee], kind="mention", milestone=node, now=now - timedelta(days=91)
    )
    (recent,) = inbox_notify(
        recipients=[team.lead], kind="mention", milestone=node, now=now - timedelta(days=89)
    )
    assert inbox_purge(now=now) == 1
    assert list(InboxItem.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_nightly_retention_task_purges_the_inbox(team, settings):
    from tracker.ops.tasks import purge_chat_identities

    node = team.node(NOW + 48 * H)
    inbox_notify(
        recipients=[team.assignee],
        kind="mention",
        milestone=node,
        now=timezone.now() - timedelta(days=settings.INBOX_RETENTION_DAYS + 1),
    )
    purge_chat_identities()
    assert not InboxItem.objects.exists()


def test_a_deleted_node_takes_its_items_along(team):
    node = team.node(NOW - H)
    scan()
    inbox_notify(recipients=[UserFactory()], kind="mention", milestone=node)
    node.delete()
    assert not InboxItem.objects.exists()
