"""The vocabulary (docs/vocabulary.md) through every consumer: one table of node situations ×
consumers, each cell the answer that consumer must give, read from the real consumer (the
queryset, the API, the web pages, the chat commands, the calendar feed, the scan, the report).

Then the scan's raw SQL side by side with the querysets over a table of cases.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from icalendar import Calendar
from rest_framework.test import APIClient

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.services import alerts_scan
from tracker.integrations.commands import command_run
from tracker.integrations.services import calendar_feed_create
from tracker.milestones.forecast import forecasts_refresh
from tracker.milestones.models import (
    LatenessEpisode,
    Milestone,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.milestones.services import milestone_update
from tracker.projects.models import Project, ProjectStatus
from tracker.projects.services import project_baseline
from tracker.reports.periods import week_period

pytestmark = pytest.mark.django_db

# A Thursday: two days back and a few hours ahead are in the same ISO week (2026-W47).
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LATE = timedelta(days=2)  # "a node two days late"
H = timedelta(hours=1)

SITUATIONS = [
    "closed project, late node",
    "archived project, late node",
    "cancelled node",
    "done late",
    "open late",
    "due soon",
    "baselined, re-planned +14 d with a reason",
    "at risk (downstream of open late)",
]

# Consumers, in column order:
#   overdue, due_soon, at_risk: MilestoneQuerySet.overdue(at) / due_soon(at) / at_risk()
#     (at risk: open and forecast later than due, so an overdue node is at risk too)
#   api_flag: GET /api/v1/milestones/{id}/ → (is_overdue, is_at_risk)
#   api_filter: listed by /api/v1/milestones/?overdue=true
#   board: the card on the web board: "overdue", "at risk", "" (plain) or None (absent)
#   my_work: the My work section it is in (None: not listed)
#   chat_overdue: listed by the chat `overdue` command
#   chat_mine: the chat `mine` command: "OVERDUE", "listed" or None
#   calendar: in the assignee's calendar feed
#   scan: the alert kinds a scan raises for it
#   report: in this week's report: "deviated", "on time" or None (not in the population)
COLUMNS = (
    "overdue",
    "due_soon",
    "at_risk",
    "api_flag",
    "api_filter",
    "board",
    "my_work",
    "chat_overdue",
    "chat_mine",
    "calendar",
    "scan",
    "report",
)
ROWS = {
    #                                               overdue  due_soon  at_risk  api_flag        api_filter  board      my_work    chat_overdue  chat_mine  calendar  scan                  report  # noqa: E501
    "closed project, late node":                  (False,   False,    False,   (False, False), False,      "",        None,      False,        None,      False,    set(),                "deviated"),  # noqa: E501
    "archived project, late node":                (False,   False,    False,   (False, False), False,      "",        None,      False,        None,      False,    set(),                "deviated"),  # noqa: E501
    "cancelled node":                             (False,   False,    False,   (False, False), False,      "",        None,      False,        None,      True,     set(),                None),  # noqa: E501
    "done late":                                  (False,   False,    False,   (False, False), False,      "",        "done",    False,        None,      True,     set(),                "deviated"),  # noqa: E501
    "open late":                                  (True,    False,    True,    (True, True),   True,       "overdue", "overdue", True,         "OVERDUE", True,     {AlertKind.OVERDUE},  "deviated"),  # noqa: E501
    "due soon":                                   (False,   True,     False,   (False, False), False,      "",        "week",    False,        "listed",  True,     {AlertKind.DUE_SOON}, None),  # noqa: E501
    "baselined, re-planned +14 d with a reason":  (False,   False,    False,   (False, False), False,      "",        None,      False,        "listed",  True,     set(),                "deviated"),  # noqa: E501
    "at risk (downstream of open late)":          (False,   False,    True,    (False, True),  False,      "at risk", "risk",    False,        "listed",  True,     {AlertKind.FORECAST_SLIP}, None),  # noqa: E501
}  # fmt: skip


@dataclass
class World:
    me: object
    nodes: dict[str, Milestone]


@pytest.fixture
def world(db):
    """Each situation as one node assigned to `me`, built with the clock at NOW."""
    with time_machine.travel(NOW, tick=False):
        me = UserFactory(username="me")
        owner = UserFactory(username="boss")
        department = DepartmentFactory(code="merch", name="Merchandising", lead=owner)

        def node(project, title, due, **fields):
            return MilestoneFactory(
                project=project,
                department=department,
                assignee=me,
                title=title,
                due_at=due,
                **fields,
            )

        # Activated projects are baselined (only baselined projects count in the reports);
        # their factory-made nodes carry no baseline of their own: planned due = due date.
        active = BaselinedProjectFactory(owner=owner, name="Double 11")
        closed = BaselinedProjectFactory(
            owner=owner, name="618 (closed)", status=ProjectStatus.CLOSED
        )
        archived = BaselinedProjectFactory(
            owner=owner, name="2025 (archived)", status=ProjectStatus.ARCHIVED
        )
        baselined = ProjectFactory(owner=owner, name="Launch", status=ProjectStatus.ACTIVE)
        nodes = {
            "closed project, late node": node(closed, "Closed late", NOW - LATE),
            "archived project, late node": node(archived, "Archived late", NOW - LATE),
            "cancelled node": node(active, "Dropped", NOW - LATE, status=MilestoneStatus.CANCELLED),
            "done late": node(
                active,
                "Done late",
                NOW - LATE,
                status=MilestoneStatus.DONE,
                completed_at=NOW - LATE + 20 * H,
            ),
            "open late": node(active, "Open late", NOW - LATE),
            "due soon": node(active, "Due soon", NOW + 2 * H),
            "baselined, re-planned +14 d with a reason": node(baselined, "Re-planned", NOW - LATE),
            "at risk (downstream of open late)": node(active, "Waiting", NOW + 10 * 24 * H),
        }
        MilestoneDependency.objects.create(
            milestone=nodes["at risk (downstream of open late)"], depends_on=nodes["open late"]
        )
        project_baseline(project=baselined, actor=owner)
        replanned = nodes["baselined, re-planned +14 d with a reason"]
        milestone_update(
            milestone_id=replanned.pk,
            actor=owner,
            data={"due_at": replanned.due_at + timedelta(days=14)},
            change_reason="The supplier moved the delivery",
            reason_code="supplier",
        )
        # The forecast the scan keeps: at risk reads it (docs/forecast.md).
        forecasts_refresh(projects=Project.objects.all(), now=NOW)
    for item in nodes.values():
        item.refresh_from_db()
    return World(me=me, nodes=nodes)


def answers(world: World) -> dict[str, dict[str, object]]:
    """Every consumer's answer for every node, read from the consumer itself."""
    nodes, me = world.nodes, world.me
    ids = {situation: n.pk for situation, n in nodes.items()}
    table: dict[str, dict[str, object]] = {situation: {} for situation in nodes}

    def column(name, values):
        for situation, pk in ids.items():
            table[situation][name] = values(pk)

    every = Milestone.objects.filter(pk__in=ids.values())
    overdue = set(every.overdue(NOW).values_list("pk", flat=True))
    due_soon = set(every.due_soon(NOW).values_list("pk", flat=True))
    at_risk = set(every.at_risk().values_list("pk", flat=True))
    column("overdue", lambda pk: pk in overdue)
    column("due_soon", lambda pk: pk in due_soon)
    column("at_risk", lambda pk: pk in at_risk)

    api = APIClient()
    api.force_login(me)

    def api_flags(pk):
        data = api.get(f"/api/v1/milestones/{pk}/").json()
        return (data["is_overdue"], data["is_at_risk"])

    column("api_flag", api_flags)
    listed = {row["id"] for row in api.get("/api/v1/milestones/?overdue=true").json()["results"]}
    column("api_filter", lambda pk: pk in listed)

    web = Client()
    web.force_login(me)
    cards: dict[int, str] = {}
    for project_id in {n.project_id for n in nodes.values()}:
        html = web.get(reverse("web:board", args=[project_id])).content.decode()
        for flag, pk in re.findall(r'<li class="card status-\w+( is-\S+)?" id="card-(\d+)"', html):
            cards[int(pk)] = {"": "", " is-overdue": "overdue", " is-at-risk": "at risk"}[flag]
    column("board", lambda pk: cards.get(pk))

    home = web.get(reverse("web:home")).content.decode()
    sections = {}
    for chunk in home.split('<section class="panel" aria-labelledby="')[1:]:
        name = chunk.split("-h", 1)[0]
        for pk in re.findall(r'href="/nodes/(\d+)/"', chunk):
            sections[int(pk)] = name
    column("my_work", lambda pk: sections.get(pk))

    chat_overdue = command_run(user=me, text="overdue", platform="Slack", now=NOW).plain()
    column("chat_overdue", lambda pk: f"#{pk} " in chat_overdue)
    mine = command_run(user=me, text="mine", platform="Slack", now=NOW).plain()

    def mine_answer(pk):
        if f"OVERDUE #{pk} " in mine:
            return "OVERDUE"
        return "listed" if f"#{pk} " in mine else None

    column("chat_mine", mine_answer)

    _feed, token = calendar_feed_create(user=me)
    ical = Calendar.from_ical(web.get(reverse("integrations:calendar_feed", args=[token])).content)
    in_feed = {
        int(str(e["UID"]).split("@")[0].removeprefix("milestone-")) for e in ical.walk("VEVENT")
    }
    column("calendar", lambda pk: pk in in_feed)

    week = week_period(NOW).label
    report = api.get(f"/api/v1/reports/weekly/?week={week}").json()
    deviated = {row["id"] for row in report["worst_slips"]}
    assert report["due_count"] == len(deviated)  # every counted node here is deviated
    column("report", lambda pk: "deviated" if pk in deviated else None)

    alerts_scan(now=NOW)  # last: it flags the nodes it judged
    raised: dict[int, set[str]] = {}
    for milestone_id, kind in Alert.objects.values_list("milestone_id", "kind"):
        raised.setdefault(milestone_id, set()).add(kind)
    column("scan", lambda pk: raised.get(pk, set()))
    return table


def test_every_consumer_gives_the_vocabularys_answer(world):
    with time_machine.travel(NOW, tick=False):
        got = answers(world)
    expected = {
        situation: dict(zip(COLUMNS, ROWS[situation], strict=True)) for situation in SITUATIONS
    }
    mismatches = [
        f"{situation} × {name}: expected {expected[situation][name]!r}, "
        f"got {got[situation][name]!r}"
        for situation in SITUATIONS
        for name in COLUMNS
        if got[situation][name] != expected[situation][name]
    ]
    assert not mismatches, "\n".join(mismatches)


def test_the_replanned_node_is_overdue_once_its_new_date_passes(world):
    """Overdue follows the current due date: 14 days on, the re-planned node is late."""
    node = world.nodes["baselined, re-planned +14 d with a reason"]
    later = NOW + timedelta(days=12, hours=1)
    assert node.due_at == NOW - LATE + timedelta(days=14)
    assert list(Milestone.objects.filter(pk=node.pk).overdue(later)) == [node]
    assert not Milestone.objects.filter(pk=node.pk).overdue(node.due_at).exists()


# The scan's SQL and the querysets, over a table of cases ---------------------------------------

OFFSETS = [
    -49 * H,
    -H,
    -timedelta(microseconds=1),
    timedelta(0),
    H,
    2 * H,
    2 * H + timedelta(microseconds=1),
    24 * H,
    24 * H + timedelta(microseconds=1),
    3 * 24 * H,
]


def test_the_scan_selects_exactly_the_querysets_nodes(db):
    """Every project status × node status × due offset × reminder window: the alerts the scan
    raises (its PostgreSQL statement is raw SQL) are exactly `overdue(now)` in alerting
    projects and `due_soon(now)`, but for nodes judged already (inside an open lateness
    episode); and the nodes inside an open episode afterwards are exactly those."""
    department = DepartmentFactory(code="ops", lead=UserFactory())
    with time_machine.travel(NOW, tick=False):
        for project_status, window in itertools.product(ProjectStatus.values, [2 * H, 24 * H]):
            project = ProjectFactory(status=project_status, due_soon_window=window)
            for status, offset in itertools.product(MilestoneStatus.values, OFFSETS):
                MilestoneFactory(
                    project=project, department=department, status=status, due_at=NOW + offset
                )
        # One node judged already: no scan raises anything for it again.
        judged = MilestoneFactory(project=ProjectFactory(), department=department, due_at=NOW - H)
        LatenessEpisode.objects.create(
            milestone=judged,
            project=judged.project,
            started_at=NOW - H,
            started_due_at=NOW - H,
            scan_id=uuid.uuid4(),
        )
        unjudged = Milestone.objects.exclude(pk=judged.pk)
        # Overdue alerts (and episodes) only in alerting projects; a planning project's
        # past-due nodes are overdue but left unjudged until it is active (issue 16).
        alerting = Project.objects.alerting()
        expected_overdue = set(
            unjudged.overdue(NOW).filter(project__in=alerting).values_list("pk", flat=True)
        )
        expected_soon = set(unjudged.due_soon(NOW).values_list("pk", flat=True))
        assert expected_overdue and expected_soon  # the table has both kinds

        result = alerts_scan(now=NOW)

    def alerted(kind):
        return set(Alert.objects.filter(kind=kind).values_list("milestone_id", flat=True))

    assert alerted(AlertKind.OVERDUE) == expected_overdue
    assert alerted(AlertKind.DUE_SOON) == expected_soon
    assert (result.overdue, result.due_soon) == (len(expected_overdue), len(expected_soon))
    in_episode = LatenessEpisode.objects.filter(ended_at__isnull=True)
    assert set(in_episode.values_list("milestone_id", flat=True)) == expected_overdue | {judged.pk}
