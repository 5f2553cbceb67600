"""iCalendar feeds behind revocable secret URLs, parsed back with the icalendar library."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from tests.factories import MilestoneFactory, ProjectFactory, UserFactory
from tracker.integrations.calendar import feed_url
from tracker.integrations.models import CalendarFeed
from tracker.integrations.services import calendar_feed_create
from tracker.milestones.models import MilestoneStatus
from tracker.projects.models import ProjectStatus

pytestmark = pytest.mark.django_db


def fetch(client, token: str) -> Calendar:
    response = client.get(reverse("integrations:calendar_feed", args=[token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def test_a_users_feed_has_their_nodes_as_events(client, settings):
    settings.SITE_URL = "https://milepost.example.com"
    user = UserFactory()
    due = timezone.now().replace(microsecond=0) + timedelta(days=3)
    mine = MilestoneFactory(
        title="Price approval", assignee=user, due_at=due, description="Check margins"
    )
    cancelled = MilestoneFactory(title="Dropped", assignee=user, status=MilestoneStatus.CANCELLED)
    MilestoneFactory(title="Someone else's")
    MilestoneFactory(
        title="Archived", assignee=user, project=ProjectFactory(status=ProjectStatus.ARCHIVED)
    )

    _feed, token = calendar_feed_create(user=user)
    calendar = fetch(client, token)
    assert calendar["VERSION"] == "2.0" and "PRODID" in calendar
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {
        f"[{mine.project.name}] Price approval",
        f"[{cancelled.project.name}] Dropped",
    }
    event = events[f"[{mine.project.name}] Price approval"]
    assert event["UID"] == f"milestone-{mine.pk}@milepost.example.com"
    assert event.decoded("DTSTART") == due
    assert event.decoded("DTEND") == due + timedelta(minutes=30)
    assert str(event["URL"]) == f"https://milepost.example.com/nodes/{mine.pk}/"
    assert "Check margins" in str(event["DESCRIPTION"])
    assert str(events[f"[{cancelled.project.name}] Dropped"]["STATUS"]) == "CANCELLED"


def test_a_project_feed_and_updates_bump_the_sequence(client):
    owner = UserFactory()
    project = ProjectFactory(owner=owner)
    node = MilestoneFactory(project=project)
    MilestoneFactory()
    _feed, token = calendar_feed_create(user=UserFactory(), project=project)
    [event] = fetch(client, token).walk("VEVENT")
    assert event["SEQUENCE"] == 1
    node.version = 4
    node.save()
    [event] = fetch(client, token).walk("VEVENT")
    assert event["SEQUENCE"] == 4


def test_query_count_does_not_grow_with_the_feed(client):
    user = UserFactory()
    _feed, token = calendar_feed_create(user=user)
    MilestoneFactory(assignee=user)
    with CaptureQueriesContext(connection) as few:
        fetch(client, token)
    MilestoneFactory.create_batch(15, assignee=user)
    with CaptureQueriesContext(connection) as many:
        calendar = fetch(client, token)
    assert len(calendar.walk("VEVENT")) == 16
    assert len(many) == len(few) <= 4


def shown_url(response) -> str | None:
    found = re.search(
        r'value="([^"]+/integrations/calendar/[^"/]+\.ics)"', response.content.decode()
    )
    return found[1] if found else None


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".ics")


def test_the_url_is_shown_once_and_stored_hashed(client):
    user = UserFactory()
    client.force_login(user)
    page = reverse("integrations:calendar_feeds")
    made = client.post(page, {"project": ""})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    url = shown_url(made)
    assert url == feed_url(token_of(url))
    feed = CalendarFeed.objects.get(user=user)
    assert feed.token_hash == CalendarFeed.hash_token(token_of(url))
    assert token_of(url) not in str(CalendarFeed.objects.filter(pk=feed.pk).values().get())
    # Later visits, and asking again for the same feed, never show it.
    again = client.post(page, {"project": ""}, follow=True)
    assert shown_url(again) is None and "You already have this feed" in again.content.decode()
    assert CalendarFeed.objects.count() == 1
    listing = client.get(page).content.decode()
    assert shown_url(client.get(page)) is None and f"{feed.prefix}…" in listing
    fetch(client, token_of(url))


def test_regenerate_and_revoke_from_the_settings_page(client):
    user = UserFactory()
    client.force_login(user)
    feed, old = calendar_feed_create(user=user)

    renewed = client.post(reverse("integrations:calendar_feed_regenerate", args=[feed.pk]))
    new = token_of(shown_url(renewed))
    assert new != old
    assert client.get(reverse("integrations:calendar_feed", args=[old])).status_code == 404
    fetch(client, new)

    client.post(reverse("integrations:calendar_feed_revoke", args=[feed.pk]))
    assert client.get(reverse("integrations:calendar_feed", args=[new])).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_nobody_else_can_regenerate_or_revoke_my_feed(client):
    feed, _token = calendar_feed_create(user=UserFactory())
    client.force_login(UserFactory())
    assert (
        client.post(reverse("integrations:calendar_feed_revoke", args=[feed.pk])).status_code == 404
    )
    assert (
        client.post(reverse("integrations:calendar_feed_regenerate", args=[feed.pk])).status_code
        == 404
    )
    assert CalendarFeed.objects.get().token_hash == feed.token_hash


def test_a_deactivated_users_feeds_stop(client):
    user = UserFactory()
    _feed, token = calendar_feed_create(user=user)
    user.is_active = False
    user.save()
    assert client.get(reverse("integrations:calendar_feed", args=[token])).status_code == 404


def test_an_unknown_project_is_a_form_error(client):
    client.force_login(UserFactory())
    response = client.post(reverse("integrations:calendar_feeds"), {"project": "999999"})
    assert response.status_code == 400
    assert not CalendarFeed.objects.exists()


def test_events_end_alarm_at_the_reminder_and_speak_the_language(client):
    shanghai = ZoneInfo("Asia/Shanghai")
    user = UserFactory(language="zh-hans")
    project = ProjectFactory(war_room=False, due_soon_window=timedelta(hours=8))
    timed = MilestoneFactory(
        project=project, assignee=user, due_at=datetime(2026, 11, 9, 10, tzinfo=shanghai)
    )
    MilestoneFactory(
        project=project, assignee=user, title="Go", due_at=datetime(2026, 11, 11, tzinfo=shanghai)
    )
    _feed, token = calendar_feed_create(user=user)
    response = client.get(reverse("integrations:calendar_feed", args=[token]))
    assert response["Content-Language"] == "zh-hans"
    events = {
        e["UID"].split("@")[0]: e for e in Calendar.from_ical(response.content).walk("VEVENT")
    }
    event = events[f"milestone-{timed.pk}"]
    # Monday 10:00 with 8 working hours of warning: the reminder starts Friday 10:00.
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == datetime(2026, 11, 6, 10, tzinfo=shanghai)
    assert str(alarm["ACTION"]) == "DISPLAY"
    all_day = next(e for uid, e in events.items() if uid != f"milestone-{timed.pk}")
    assert all_day.decoded("DTSTART") == date(2026, 11, 11)
    assert all_day.decoded("DTEND") == date(2026, 11, 12)


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_existing_tokens_and_their_urls_keep_working(client):
    from django.db.migrations.executor import MigrationExecutor

    user = UserFactory()
    before = [("integrations", "0005_channel_moved_to_notifications")]
    after = [("integrations", "0006_calendar_feed_token_hashed")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    OldFeed = executor.loader.project_state(before).apps.get_model("integrations", "CalendarFeed")
    OldFeed.objects.create(user_id=user.pk, token="an-old-plain-token-subscribed-long-ago")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    feed = CalendarFeed.objects.get()
    assert feed.prefix == "an-old"
    assert feed.token_hash == CalendarFeed.hash_token("an-old-plain-token-subscribed-long-ago")
    with connection.cursor() as cursor:
        columns = [
            c.name
            for c in connection.introspection.get_table_description(
                cursor, "integrations_calendarfeed"
            )
        ]
    assert "token" not in columns
    fetch(client, "an-old-plain-token-subscribed-long-ago")
