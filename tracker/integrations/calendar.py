"""iCalendar (RFC 5545) feeds of nodes, for Outlook, Feishu, Google and Apple calendars.

One VEVENT per node at its due moment, in UTC, lasting `EVENT_LENGTH` (calendars draw an
event without DTEND as nothing at all); a node due at local midnight is an all-day event on that
day. Open nodes carry a VALARM at the moment the due-soon reminder starts (the project's window
of working time before the due date). The UID is stable per node and SEQUENCE follows the
node's version, so calendars update events in place; cancelled nodes stay in the feed as
STATUS:CANCELLED so subscribed calendars remove them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from tracker.integrations.models import CalendarFeed
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.notifications.links import node_url
from tracker.workcal.calendar import WorkingCalendar

HISTORY = timedelta(days=180)  # older finished nodes leave the feed to keep it small
EVENT_LENGTH = timedelta(minutes=30)
STATUS = {
    MilestoneStatus.CANCELLED: "CANCELLED",
    MilestoneStatus.TODO: "TENTATIVE",
}


def feed_nodes(feed: CalendarFeed, *, now: datetime | None = None) -> QuerySet[Milestone]:
    """The nodes of a feed: the project's, or those assigned to the feed's owner; only
    active projects' (a closed or archived project leaves its subscribers' calendars)."""
    now = now or timezone.now()
    queryset = (
        Milestone.objects.visible_to(feed.user)
        .in_active_projects()
        .filter(due_at__gte=now - HISTORY)
        .select_related("project", "department", "assignee")
        .order_by("due_at", "id")
    )
    if feed.project_id is not None:
        return queryset.filter(project_id=feed.project_id)
    return queryset.filter(assignee_id=feed.user_id)


def feed_name(feed: CalendarFeed) -> str:
    if feed.project_id is not None:
        return _("Milepost: %(project)s") % {"project": feed.project.name}
    return _("Milepost: my nodes")


def render_calendar(feed: CalendarFeed, nodes: list[Milestone]) -> bytes:
    host = urlsplit(settings.SITE_URL).hostname or "milepost"
    calendar = Calendar()
    calendar.add("prodid", "-//Milepost//Milestones//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", feed_name(feed))
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    working = WorkingCalendar()
    for node in nodes:
        event = Event()
        event.add("uid", f"milestone-{node.pk}@{host}")
        event.add("dtstamp", node.updated_at.astimezone(UTC))
        event.add("last-modified", node.updated_at.astimezone(UTC))
        event.add("sequence", node.version)
        local = timezone.localtime(node.due_at)
        if local.time() == time.min:
            event.add("dtstart", local.date())
            event.add("dtend", local.date() + timedelta(days=1))
        else:
            event.add("dtstart", node.due_at.astimezone(UTC))
            event.add("dtend", (node.due_at + EVENT_LENGTH).astimezone(UTC))
        done = "✓ " if node.status == MilestoneStatus.DONE else ""
        event.add("summary", f"{done}[{node.project.name}] {node.title}")
        facts = [
            _("Department: %(name)s") % {"name": node.department.name},
            _("Assignee: %(name)s") % {"name": node.assignee or "-"},
            _("Status: %(status)s") % {"status": node.get_status_display()},
        ]
        if node.description:
            facts.append("")
            facts.append(node.description)
        url = node_url(node.pk)
        facts.append(url)
        event.add("url", url)
        event.add("description", "\n".join(facts))
        event.add("categories", [node.department.name])
        event.add("status", STATUS.get(node.status, "CONFIRMED"))
        event.add("transp", "TRANSPARENT")
        if node.status in MilestoneStatus.open_values():
            event.add_component(_alarm(node, working))
        calendar.add_component(event)
    return calendar.to_ical()


def _alarm(node: Milestone, working: WorkingCalendar) -> Alarm:
    """A display alarm when the due-soon reminder starts: the project's window of working time
    before the due date."""
    project = node.project
    remind_at = working.add_working_hours(
        node.due_at,
        -project.due_soon_window,
        working_hours=project.hours,
        war_room=project.war_room_window,
    )
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", remind_at.astimezone(UTC), parameters={"VALUE": "DATE-TIME"})
    alarm.add("description", _("Due soon: %(title)s") % {"title": node.title})
    return alarm


def feed_url(token: str) -> str:
    """A feed's secret URL, from its clear token (which only its creation knows)."""
    return settings.SITE_URL + reverse("integrations:calendar_feed", args=[token])
