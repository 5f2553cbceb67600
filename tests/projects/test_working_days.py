"""Templates on the working calendar: the shipped templates put no node on a non-working day,
calendar-day offsets move off holidays by the template's rule, the preview says why, and
re-anchoring keeps the rule."""

from datetime import date, datetime, time, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from tests.factories import DepartmentFactory, UserFactory
from tracker.milestones.models import Milestone
from tracker.projects.models import OffsetUnit, ProjectTemplate
from tracker.projects.services import (
    project_create,
    project_reanchor,
    template_save,
    template_schedule,
)
from tracker.workcal.calendar import WorkingCalendar
from tracker.workcal.models import RollRule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_templates")]
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = ["merch", "supply", "design", "tech", "marketing", "cs", "ops"]
FIXTURE_2027 = Path(__file__).parent.parent / "workcal" / "fixtures" / "calendar_2027.csv"


def d_day(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(0, 0), tzinfo=SHANGHAI)


@pytest.fixture
def departments():
    return [DepartmentFactory(code=code) for code in DEPARTMENTS]


def non_working(project) -> list[str]:
    calendar = WorkingCalendar()
    return [
        f"{m.template_key} {m.due_at.astimezone(SHANGHAI):%Y-%m-%d}"
        for m in Milestone.objects.filter(project=project)
        if not calendar.is_working_day(m.due_at.astimezone(SHANGHAI).date())
    ]


@pytest.mark.parametrize(
    ("code", "kind", "day"),
    [
        ("sale-campaign", "campaign", "2026-11-11"),  # Double 11 2026
        ("sale-campaign", "campaign", "2026-06-18"),  # 618 2026
        ("product-launch", "launch", "2026-11-11"),
        ("product-launch", "launch", "2026-06-18"),
    ],
)
def test_shipped_templates_put_no_node_on_a_non_working_day(departments, code, kind, day):
    # With calendar-day offsets, 11 of Double 11 2026's 24 nodes and 8 of 618's fell on a
    # weekend or a holiday (stock replenishment on 2026-10-02, hero SKUs on 2026-05-04).
    template = ProjectTemplate.objects.get(code=code)
    assert template.offset_unit == OffsetUnit.WORKING_DAYS
    project = project_create(
        actor=None, name=code, kind=kind, d_day=d_day(day), owner=UserFactory(), template=template
    )
    assert project.milestones.count() == template.nodes.count()
    assert non_working(project) == []


@pytest.mark.parametrize(
    ("code", "kind"), [("sale-campaign", "campaign"), ("product-launch", "launch")]
)
@pytest.mark.parametrize("day", ["2027-11-11", "2027-06-18"])
def test_a_year_loaded_from_a_file_schedules_the_same_way(departments, code, kind, day):
    """2027 from a calendar file (made up for the tests), whatever the library knows of 2027."""
    call_command("load_calendar_year", str(FIXTURE_2027), stdout=StringIO())
    project = project_create(
        actor=None,
        name=code,
        kind=kind,
        d_day=d_day(day),
        owner=UserFactory(),
        template=ProjectTemplate.objects.get(code=code),
    )
    assert non_working(project) == []


def test_the_loaded_year_moves_nodes_the_library_would_not():
    template = ProjectTemplate.objects.get(code="sale-campaign")
    before = {n.key: n for n in template_schedule(template=template, d_day=d_day("2027-11-11"))}
    call_command("load_calendar_year", str(FIXTURE_2027), stdout=StringIO())
    after = {n.key: n for n in template_schedule(template=template, d_day=d_day("2027-11-11"))}
    # The file makes Saturday 2027-10-09 a working day and 10-06/07 days off.
    changed = [key for key in after if after[key].due_at != before[key].due_at]
    assert changed
    assert all("National Day" in after[key].moved_because for key in changed)


def calendar_template(rule: str = RollRule.PREVIOUS) -> ProjectTemplate:
    return template_save(
        actor=None,
        code="calendar-days",
        name="Calendar days",
        kind="campaign",
        offset_unit=OffsetUnit.CALENDAR_DAYS,
        roll_rule=rule,
        nodes=[
            {"key": "stock", "title": "Stock", "department": "supply", "offset_days": -40},
            {"key": "freeze", "title": "Freeze", "department": "tech", "offset_days": -3},
            {"key": "sla", "title": "SLA", "department": "supply", "offset_days": 3},
            {"key": "kickoff", "title": "Kickoff", "department": "ops", "offset_days": -5},
            {
                "key": "go-live",
                "title": "Go",
                "department": "ops",
                "offset_days": 0,
                "time": "00:00",
            },
        ],
    )


@pytest.mark.parametrize(
    ("rule", "key", "due", "moved_from", "because"),
    [
        (RollRule.PREVIOUS, "stock", "2026-09-30", "2026-10-02", "National Day"),
        (RollRule.NEXT, "stock", "2026-10-08", "2026-10-02", "National Day"),
        (RollRule.PREVIOUS, "freeze", "2026-11-06", "2026-11-08", "Sunday"),
        (RollRule.NEXT, "sla", "2026-11-16", "2026-11-14", "Saturday"),
        (RollRule.PREVIOUS, "kickoff", "2026-11-06", None, ""),
        (RollRule.PREVIOUS, "go-live", "2026-11-11", None, ""),
    ],
)
def test_calendar_day_offsets_move_off_non_working_days(rule, key, due, moved_from, because):
    template = calendar_template(rule)
    nodes = {n.key: n for n in template_schedule(template=template, d_day=d_day("2026-11-11"))}
    node = nodes[key]
    assert node.due_at.astimezone(SHANGHAI).date() == date.fromisoformat(due)
    assert node.moved_from == (date.fromisoformat(moved_from) if moved_from else None)
    assert node.moved_because == because


def test_the_d_day_never_moves():
    template = calendar_template()
    nodes = {n.key: n for n in template_schedule(template=template, d_day=d_day("2028-11-11"))}
    assert nodes["go-live"].due_at == d_day("2028-11-11")  # a Saturday


def test_working_day_offsets_say_what_moved_them():
    template = ProjectTemplate.objects.get(code="sale-campaign")
    nodes = {n.key: n for n in template_schedule(template=template, d_day=d_day("2026-11-11"))}
    stock = nodes["stock-replenishment"]  # 29 working days before Double 11
    assert stock.due_at == datetime(2026, 9, 24, 18, 0, tzinfo=SHANGHAI)
    assert stock.moved_from == date(2026, 10, 1)  # 29 Mondays-to-Fridays before
    assert stock.moved_because == "Mid-Autumn Festival, National Day"
    assert nodes["go-no-go"].moved_from is None  # nothing in between


def test_a_war_room_keeps_weekend_nodes(departments):
    template = calendar_template()
    project = project_create(
        actor=None,
        name="D11",
        kind="campaign",
        d_day=d_day("2026-11-11"),
        owner=UserFactory(),
        template=template,
        war_room=True,
        war_room_days_before=3,
        war_room_days_after=3,
    )
    due = {m.template_key: m.due_at.astimezone(SHANGHAI).date() for m in project.milestones.all()}
    assert due["freeze"] == date(2026, 11, 8)  # Sunday D-3, inside the war room
    assert due["sla"] == date(2026, 11, 14)  # Saturday D+3
    assert due["stock"] == date(2026, 9, 30)  # outside it, still off the holiday


def test_reanchor_keeps_working_day_distances(departments):
    template = ProjectTemplate.objects.get(code="sale-campaign")
    project = project_create(
        actor=None,
        name="D11",
        kind="campaign",
        d_day=d_day("2026-11-11"),
        owner=UserFactory(),
        template=template,
    )
    project_reanchor(project=project, new_d_day=d_day("2026-11-18"), reason="Platform", actor=None)
    expected = {
        n.key: n.due_at for n in template_schedule(template=template, d_day=d_day("2026-11-18"))
    }
    moved = {m.template_key: m.due_at for m in project.milestones.all()}
    assert moved == expected
    assert non_working(project) == []


def test_reanchor_of_a_calendar_day_template_rolls_by_its_rule(departments):
    template = calendar_template(RollRule.NEXT)
    project = project_create(
        actor=None,
        name="D11",
        kind="campaign",
        d_day=d_day("2026-11-11"),
        owner=UserFactory(),
        template=template,
    )
    project_reanchor(project=project, new_d_day=d_day("2026-11-12"), reason="Platform", actor=None)
    due = {m.template_key: m.due_at.astimezone(SHANGHAI) for m in project.milestones.all()}
    assert due["stock"].date() == date(2026, 10, 9)  # 10-08 + 1 day
    assert due["kickoff"].date() == date(2026, 11, 9)  # Saturday 11-07 → Monday
    assert due["go-live"] == d_day("2026-11-12")
    assert due["kickoff"].time() == time(18, 0)
    assert non_working(project) == []
    # And the history says from where to where.
    change = project.milestones.get(template_key="kickoff").changes.get(field="due_at")
    assert change.new_value == due["kickoff"].isoformat()


def test_reanchor_without_a_template_moves_by_the_same_time(departments):
    from tests.factories import MilestoneFactory, ProjectFactory

    project = ProjectFactory(d_day=d_day("2026-11-11"))
    node = MilestoneFactory(project=project, due_at=d_day("2026-11-06") + timedelta(hours=18))
    project_reanchor(project=project, new_d_day=d_day("2026-11-12"), reason="x", actor=None)
    node.refresh_from_db()
    assert node.due_at == d_day("2026-11-07") + timedelta(hours=18)  # a Saturday: no rule
