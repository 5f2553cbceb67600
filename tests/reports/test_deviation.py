"""The deviation rate, rule by rule, against the real PostgreSQL aggregates.

Most cases use ISO week 2026-W46 in Asia/Shanghai: Monday 9 November 00:00 to Monday
16 November 00:00 (Double 11 is its Wednesday). Times are written "MM-DD HH:MM" in 2026, in
Shanghai unless they end in "UTC".
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.services import project_baseline
from tracker.reports.periods import parse_month, parse_week
from tracker.reports.selectors import deviation_report, monthly_report, weekly_trend

TODO, IN_PROGRESS, BLOCKED, DONE, CANCELLED = (
    MilestoneStatus.TODO,
    MilestoneStatus.IN_PROGRESS,
    MilestoneStatus.BLOCKED,
    MilestoneStatus.DONE,
    MilestoneStatus.CANCELLED,
)
SHANGHAI = "Asia/Shanghai"
WEEK = "2026-W46"
AFTER_THE_WEEK = "11-20 12:00"  # Friday of the following week
MID_WEEK = "11-11 12:00"  # Wednesday noon, inside W46

ON_TIME, LATE, OPEN, OUTSIDE = "on time", "late", "open and overdue", "not in the population"
EXPECTED = {
    ON_TIME: {"due_count": 1, "on_time_count": 1, "late_count": 0, "open_overdue_count": 0},
    LATE: {"due_count": 1, "on_time_count": 0, "late_count": 1, "open_overdue_count": 0},
    OPEN: {"due_count": 1, "on_time_count": 0, "late_count": 0, "open_overdue_count": 1},
    OUTSIDE: {"due_count": 0, "on_time_count": 0, "late_count": 0, "open_overdue_count": 0},
}
RATE = {ON_TIME: 0.0, LATE: 1.0, OPEN: 1.0, OUTSIDE: None}


def t(text: str) -> datetime:
    """'11-11 18:00' → that moment of 2026 in Shanghai; '11-15 20:00 UTC' → in UTC."""
    zone = UTC if text.endswith(" UTC") else ZoneInfo(SHANGHAI)
    return datetime.strptime(f"2026-{text.removesuffix(' UTC')}", "%Y-%m-%d %H:%M").replace(
        tzinfo=zone
    )


@pytest.fixture(autouse=True)
def shanghai(settings):
    settings.TIME_ZONE = SHANGHAI
    settings.DEVIATION_THRESHOLD = "0.10"


@pytest.fixture
def actor(db):
    return UserFactory(username="planner", is_staff=True, password=None)  # no hashing: fast


@dataclass(frozen=True)
class Case:
    id: str
    due: str  # the due date when the baseline is taken (the only one without a baseline)
    expect: str
    status: str = TODO
    done: str | None = None  # completed_at
    baseline: bool = False  # project_baseline() after creating the node
    moved_to: str | None = None  # milestone_update(due_at=…) afterwards, with a reason
    as_of: str = AFTER_THE_WEEK
    zone: str = SHANGHAI
    project_baselined: bool = True  # False: a planning project's node, left out


CASES = [
    # Completion against the planned due: exactly at the due is on time.
    Case("done-exactly-at-due", "11-11 18:00", ON_TIME, DONE, done="11-11 18:00"),
    Case("done-one-minute-early", "11-11 18:00", ON_TIME, DONE, done="11-11 17:59"),
    Case("done-one-minute-late", "11-11 18:00", LATE, DONE, done="11-11 18:01"),
    Case("done-a-week-before-the-week", "11-11 18:00", ON_TIME, DONE, done="11-02 09:00"),
    Case("done-after-the-week", "11-13 18:00", LATE, DONE, done="11-17 10:00"),
    # Not done is deviated, whatever the open status; cancelled never counts.
    Case("todo-past-due", "11-11 18:00", OPEN),
    Case("in-progress-past-due", "11-11 18:00", OPEN, IN_PROGRESS),
    Case("blocked-past-due", "11-11 18:00", OPEN, BLOCKED),
    Case("cancelled", "11-11 18:00", OUTSIDE, CANCELLED),
    # Week edges: [Monday 00:00, next Monday 00:00) in Asia/Shanghai.
    Case("monday-00-00-is-in", "11-09 00:00", OPEN),
    Case("sunday-before-23-59-is-out", "11-08 23:59", OUTSIDE),
    Case("sunday-23-59-is-in", "11-15 23:59", OPEN),
    Case("next-monday-00-00-is-out", "11-16 00:00", OUTSIDE),
    Case("utc-sunday-night-is-shanghai-monday", "11-08 16:30 UTC", OPEN),
    Case("utc-sunday-evening-is-next-shanghai-week", "11-15 16:00 UTC", OUTSIDE),
    # The same two moments when TIME_ZONE is UTC: the week is 8 hours later.
    Case("in-utc-sunday-night-is-previous-week", "11-08 16:30 UTC", OUTSIDE, zone="UTC"),
    Case("in-utc-sunday-evening-is-this-week", "11-15 16:00 UTC", OPEN, zone="UTC"),
    # A date moved after the baseline is judged against the baseline.
    Case(
        "moved-later-then-done-before-new-due",
        "11-11 18:00",
        LATE,
        DONE,
        done="11-16 10:00",
        baseline=True,
        moved_to="11-18 18:00",
    ),
    Case("moved-later-still-open", "11-11 18:00", OPEN, baseline=True, moved_to="11-18 18:00"),
    Case(
        "moved-into-the-week-from-an-earlier-baseline",
        "11-04 18:00",
        OUTSIDE,
        DONE,
        done="11-12 18:00",
        baseline=True,
        moved_to="11-12 18:00",
    ),
    Case(
        "moved-earlier-done-at-new-due",
        "11-13 18:00",
        ON_TIME,
        DONE,
        done="11-10 18:00",
        baseline=True,
        moved_to="11-10 18:00",
    ),
    Case("baselined-not-moved", "11-11 18:00", ON_TIME, DONE, done="11-11 18:00", baseline=True),
    # Without a baseline the current due date is the plan.
    Case(
        "moved-out-of-the-week-unbaselined",
        "11-11 18:00",
        OUTSIDE,
        moved_to="11-18 18:00",
        project_baselined=False,
    ),
    # A planning project's node is left out, however late.
    Case("unbaselined-project-open-past-due", "11-11 18:00", OUTSIDE, project_baselined=False),
    # The current week: only nodes already due at `as_of` (Wednesday noon) count.
    Case("current-week-due-yesterday-open", "11-10 18:00", OPEN, as_of=MID_WEEK),
    Case("current-week-due-friday-open", "11-13 18:00", OUTSIDE, as_of=MID_WEEK),
    Case(
        "current-week-due-friday-done-early",
        "11-13 18:00",
        OUTSIDE,
        DONE,
        done="11-10 18:00",
        as_of=MID_WEEK,
    ),
    Case("current-week-due-exactly-at-as-of", "11-11 12:00", OPEN, as_of=MID_WEEK),
    Case("current-week-due-a-minute-after-as-of", "11-11 12:01", OUTSIDE, as_of=MID_WEEK),
    Case(
        "current-week-done-late-before-as-of",
        "11-11 09:00",
        LATE,
        DONE,
        done="11-11 11:00",
        as_of=MID_WEEK,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_deviation_rule(settings, actor, case: Case):
    settings.TIME_ZONE = case.zone
    as_of = t(case.as_of)
    with time_machine.travel(as_of, tick=False):
        # Only baselined projects count: a case without `baseline` is a node of a project
        # baselined before it was added (its planned due is its due date), except an
        # unbaselined project's, which the reports leave out.
        factory = ProjectFactory if case.baseline or not case.project_baselined else None
        project = (factory or BaselinedProjectFactory)(owner=actor)
        node = MilestoneFactory(project=project, due_at=t(case.due))
        if case.baseline:
            project_baseline(project=project, actor=actor)
        code = "supplier" if project.baselined_at else ""
        if case.moved_to:
            reason = "The supplier slipped." if case.baseline else ""
            milestone_update(
                milestone_id=node.pk,
                actor=actor,
                data={"due_at": t(case.moved_to)},
                change_reason=reason,
                reason_code=code,
            )
        if case.status != TODO:
            data = {"status": case.status}
            if case.done:
                data["completed_at"] = t(case.done)
            milestone_update(milestone_id=node.pk, actor=actor, data=data, reason_code=code)
        report = deviation_report(period=parse_week(WEEK))  # as_of defaults to now

    node.refresh_from_db()
    assert node.baseline_due_at == (t(case.due) if case.baseline else None)
    assert node.due_at == t(case.moved_to or case.due)
    assert report["as_of"] == as_of
    assert {key: report[key] for key in EXPECTED[case.expect]} == EXPECTED[case.expect]
    assert report["deviation_rate"] == RATE[case.expect]
    assert report["breached"] is (case.expect in (LATE, OPEN))


def test_report_fields_for_the_period(actor):
    report = deviation_report(period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK))
    assert report["period"] == WEEK
    assert report["start"] == t("11-09 00:00")
    assert report["end"] == t("11-16 00:00")
    assert report["as_of"] == t(AFTER_THE_WEEK)
    assert {
        "period",
        "start",
        "end",
        "as_of",
        "due_count",
        "on_time_count",
        "late_count",
        "open_overdue_count",
        "deviation_rate",
        "threshold",
        "breached",
        "mean_slip_days",
        "by_department",
        "by_project",
    } <= report.keys()


def test_empty_population(actor):
    """Nothing due (only cancelled and later nodes): no rate at all, and never breached."""
    project = BaselinedProjectFactory(owner=actor, deviation_threshold=Decimal(0))
    MilestoneFactory(project=project, due_at=t("11-11 18:00"), status=CANCELLED)
    MilestoneFactory(project=project, due_at=t("11-18 18:00"))
    for project_id in (None, project.pk):
        report = deviation_report(
            period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK), project_id=project_id
        )
        assert report["due_count"] == 0
        assert report["deviation_rate"] is None
        assert report["breached"] is False
        assert report["mean_slip_days"] is None
        assert report["by_department"] == []
        assert report["by_project"] == []
        assert report["worst_slips"] == []


def _population(project, *, deviated: int, due: int) -> None:
    """`due` nodes in W46, the first `deviated` of them still open."""
    for i in range(due):
        MilestoneFactory(
            project=project,
            due_at=t("11-10 18:00") + timedelta(hours=i),
            status=TODO if i < deviated else DONE,
        )


@pytest.mark.parametrize(
    ("deviated", "due", "threshold", "breached"),
    [
        pytest.param(0, 10, "0.10", False, id="none-deviated"),
        pytest.param(1, 10, "0.10", False, id="equal-to-threshold-is-not-breached"),
        pytest.param(2, 10, "0.10", True, id="above-threshold"),
        pytest.param(1, 4, "0.25", False, id="equal-quarter"),
        # 1/3 shows as 0.3333 but is above a threshold of 0.3333.
        pytest.param(1, 3, "0.3333", True, id="rounded-rate-equals-threshold-but-is-above"),
        pytest.param(0, 5, "0", False, id="zero-threshold-nothing-deviated"),
        pytest.param(1, 5, "0", True, id="zero-threshold-is-not-the-default"),
        pytest.param(5, 5, "1", False, id="everything-deviated-threshold-one"),
    ],
)
def test_breached_strictly_above_the_project_threshold(actor, deviated, due, threshold, breached):
    project = BaselinedProjectFactory(owner=actor, deviation_threshold=Decimal(threshold))
    _population(project, deviated=deviated, due=due)
    report = deviation_report(
        period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK), project_id=project.pk
    )
    assert (report["due_count"], report["deviation_rate"]) == (due, round(deviated / due, 4))
    assert report["threshold"] == Decimal(threshold)
    assert report["breached"] is breached
    [entry] = report["by_project"]
    assert (entry["threshold"], entry["breached"]) == (Decimal(threshold), breached)


def test_threshold_per_project_versus_default(settings, actor):
    settings.DEVIATION_THRESHOLD = "0.25"
    strict = BaselinedProjectFactory(
        owner=actor, name="Strict", deviation_threshold=Decimal("0.05")
    )
    lenient = BaselinedProjectFactory(
        owner=actor, name="Lenient", deviation_threshold=Decimal("0.50")
    )
    _population(strict, deviated=1, due=5)  # 0.2
    _population(lenient, deviated=3, due=5)  # 0.6
    period, as_of = parse_week(WEEK), t(AFTER_THE_WEEK)

    overall = deviation_report(period=period, as_of=as_of)  # 4/10 = 0.4 against the default
    assert (overall["deviation_rate"], overall["threshold"]) == (0.4, Decimal("0.25"))
    assert overall["breached"] is True
    assert [(p["name"], p["threshold"], p["breached"]) for p in overall["by_project"]] == [
        ("Lenient", Decimal("0.50"), True),
        ("Strict", Decimal("0.05"), True),
    ]

    strict_report = deviation_report(period=period, as_of=as_of, project_id=strict.pk)
    assert (strict_report["threshold"], strict_report["breached"]) == (Decimal("0.05"), True)

    settings.DEVIATION_THRESHOLD = "0.45"
    assert deviation_report(period=period, as_of=as_of)["breached"] is False
    department = Milestone.objects.filter(project=strict).first().department
    by_department = deviation_report(period=period, as_of=as_of, department_id=department.pk)
    assert (by_department["due_count"], by_department["threshold"]) == (1, Decimal("0.45"))


def test_mean_slip_days_over_deviated_nodes_only(actor):
    """Slip = completion (or as_of, while open) minus planned due; on-time nodes don't dilute it."""
    merch = DepartmentFactory(code="merch", name="Merchandising")
    tech = DepartmentFactory(code="tech", name="Tech")
    project = BaselinedProjectFactory(owner=actor)
    node = {
        "two-days-late": (merch, "11-10 18:00", DONE, "11-12 18:00"),
        "half-a-day-late": (merch, "11-12 06:00", DONE, "11-12 18:00"),
        "early": (merch, "11-11 18:00", DONE, "11-10 18:00"),
        "open-seven-days": (tech, "11-13 12:00", TODO, None),  # as_of is 11-20 12:00
    }
    for title, (department, due, status, done) in node.items():
        MilestoneFactory(
            project=project,
            department=department,
            title=title,
            due_at=t(due),
            status=status,
            completed_at=done and t(done),
        )
    report = deviation_report(period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK))
    assert report["mean_slip_days"] == round((2 + 0.5 + 7) / 3, 2)
    assert [(d["code"], d["mean_slip_days"]) for d in report["by_department"]] == [
        ("merch", 1.25),
        ("tech", 7.0),
    ]
    assert [(s["title"], s["slip_days"]) for s in report["worst_slips"]] == [
        ("open-seven-days", 7.0),
        ("two-days-late", 2.0),
        ("half-a-day-late", 0.5),
    ]


def _fields(entry: dict, *keys: str) -> tuple:
    return tuple(entry[key] for key in keys)


def test_breakdown_per_department_and_per_project(actor):
    merch = DepartmentFactory(code="merch", name="Merchandising")
    tech = DepartmentFactory(code="tech", name="Tech")
    double11 = BaselinedProjectFactory(owner=actor, name="Double 11")
    launch = BaselinedProjectFactory(owner=actor, name="Aurora launch")
    rows = [
        (double11, merch, "11-10 18:00", DONE, "11-10 17:00"),  # on time
        (double11, merch, "11-11 18:00", DONE, "11-12 18:00"),  # late
        (double11, tech, "11-12 18:00", BLOCKED, None),  # open
        (launch, merch, "11-13 18:00", DONE, "11-13 18:00"),  # on time
        (launch, tech, "11-13 18:00", DONE, "11-12 18:00"),  # on time
        (launch, tech, "11-11 18:00", CANCELLED, None),  # never counts
        (launch, tech, "11-17 18:00", TODO, None),  # next week
    ]
    for project, department, due, status, done in rows:
        MilestoneFactory(
            project=project,
            department=department,
            due_at=t(due),
            status=status,
            completed_at=done and t(done),
        )
    period, as_of = parse_week(WEEK), t(AFTER_THE_WEEK)
    report = deviation_report(period=period, as_of=as_of)

    headline = ("due_count", "on_time_count", "late_count", "open_overdue_count")
    assert _fields(report, *headline, "deviation_rate") == (5, 3, 1, 1, 0.4)
    department_keys = (
        "code",
        "name",
        "due_count",
        "deviated_count",
        "late_count",
        "open_overdue_count",
        "deviation_rate",
    )
    assert [_fields(d, *department_keys) for d in report["by_department"]] == [
        ("merch", "Merchandising", 3, 1, 1, 0, 0.3333),
        ("tech", "Tech", 2, 1, 0, 1, 0.5),
    ]
    project_keys = ("id", "name", "due_count", "deviated_count", "deviation_rate", "breached")
    assert [_fields(p, *project_keys) for p in report["by_project"]] == [
        (launch.pk, "Aurora launch", 2, 0, 0.0, False),
        (double11.pk, "Double 11", 3, 2, 0.6667, True),
    ]

    only_double11 = deviation_report(period=period, as_of=as_of, project_id=double11.pk)
    assert _fields(only_double11, *headline) == (3, 1, 1, 1)
    assert [d["code"] for d in only_double11["by_department"]] == ["merch", "tech"]
    only_tech = deviation_report(period=period, as_of=as_of, department_id=tech.pk)
    assert _fields(only_tech, *headline) == (2, 1, 0, 1)
    assert [p["name"] for p in only_tech["by_project"]] == ["Aurora launch", "Double 11"]


def test_monthly_report_trend_counts_only_the_in_month_part_of_edge_weeks(actor):
    """November 2026 runs Sunday 1st to Monday 30th: its weeks are W44 (from 26 October)
    to W49 (to 7 December), and nodes of those weeks outside November do not count."""
    departments = {
        code: DepartmentFactory(code=code, name=name)
        for code, name in [
            ("ops", "Operations"),
            ("merch", "Merchandising"),
            ("design", "Design"),
            ("tech", "Tech"),
            ("supply", "Supply chain"),
        ]
    }
    project = BaselinedProjectFactory(owner=actor)
    rows = [
        ("ops", "10-31 23:59", TODO, None),  # W44 but October
        ("ops", "11-01 00:00", DONE, "10-31 12:00"),  # W44, on time
        ("ops", "11-01 10:00", TODO, None),  # W44, open
        ("merch", "11-11 18:00", DONE, "11-12 09:00"),  # W46, late
        ("design", "11-11 20:00", DONE, "11-11 20:00"),  # W46, on time
        ("supply", "11-20 18:00", BLOCKED, None),  # W47, open
        ("supply", "11-21 18:00", TODO, None),  # W47, open
        ("tech", "11-30 10:00", IN_PROGRESS, None),  # W49, open
        ("tech", "11-30 11:00", CANCELLED, None),  # never counts
        ("tech", "12-01 10:00", TODO, None),  # W49 but December
    ]
    for code, due, status, done in rows:
        MilestoneFactory(
            project=project,
            department=departments[code],
            due_at=t(due),
            status=status,
            completed_at=done and t(done),
        )
    report = monthly_report(period=parse_month("2026-11"), as_of=t("12-05 12:00"))

    assert (report["period"], report["due_count"], report["deviated_count"]) == ("2026-11", 7, 5)
    trend = [
        (w["week"], w["start"], w["due_count"], w["deviated_count"], w["deviation_rate"])
        for w in report["weekly_trend"]
    ]
    assert trend == [
        ("2026-W44", t("10-26 00:00"), 2, 1, 0.5),
        ("2026-W45", t("11-02 00:00"), 0, 0, None),
        ("2026-W46", t("11-09 00:00"), 2, 1, 0.5),
        ("2026-W47", t("11-16 00:00"), 2, 2, 1.0),
        ("2026-W48", t("11-23 00:00"), 0, 0, None),
        ("2026-W49", t("11-30 00:00"), 1, 1, 1.0),
    ]
    # Ranked by rate, then by how many deviated, then by name.
    assert [
        (d["code"], d["deviation_rate"], d["deviated_count"]) for d in report["departments_ranked"]
    ] == [
        ("supply", 1.0, 2),
        ("merch", 1.0, 1),
        ("tech", 1.0, 1),
        ("ops", 0.5, 1),
        ("design", 0.0, 0),
    ]


def test_weekly_trend_of_the_last_weeks_up_to_now(actor):
    project = BaselinedProjectFactory(owner=actor)
    other = BaselinedProjectFactory(owner=actor)
    rows = [
        (project, "10-29 18:00", TODO, None),  # W44: before the three weeks
        (project, "11-05 18:00", DONE, "11-05 10:00"),  # W45 on time
        (project, "11-11 18:00", TODO, None),  # W46 open
        (project, "11-17 09:00", DONE, "11-17 10:00"),  # W47 late
        (project, "11-19 18:00", TODO, None),  # W47 but not yet due
        (other, "11-11 19:00", DONE, "11-11 19:00"),  # W46, another project
    ]
    for node_project, due, status, done in rows:
        MilestoneFactory(
            project=node_project, due_at=t(due), status=status, completed_at=done and t(done)
        )
    with time_machine.travel(t("11-18 12:00"), tick=False):  # Wednesday of W47
        trend = weekly_trend(weeks=3)
        only_project = weekly_trend(weeks=3, project_id=project.pk)
        this_week = weekly_trend(weeks=1)

    def figures(weeks):
        return [
            (w["week"], w["due_count"], w["deviated_count"], w["deviation_rate"]) for w in weeks
        ]

    assert figures(trend) == [
        ("2026-W45", 1, 0, 0.0),
        ("2026-W46", 2, 1, 0.5),
        ("2026-W47", 1, 1, 1.0),
    ]
    assert figures(only_project) == [
        ("2026-W45", 1, 0, 0.0),
        ("2026-W46", 1, 1, 1.0),
        ("2026-W47", 1, 1, 1.0),
    ]
    assert figures(this_week) == [("2026-W47", 1, 1, 1.0)]


def test_weekly_trend_across_the_new_year(actor):
    project = BaselinedProjectFactory(owner=actor)
    MilestoneFactory(project=project, due_at=t("12-23 18:00"))
    MilestoneFactory(project=project, due_at=t("12-31 18:00"), status=DONE)
    trend = weekly_trend(weeks=2, as_of=datetime(2027, 1, 2, 12, tzinfo=ZoneInfo(SHANGHAI)))
    assert [(w["week"], w["due_count"], w["deviated_count"]) for w in trend] == [
        ("2026-W52", 1, 1),
        ("2026-W53", 1, 0),
    ]


def _bulk_nodes(count: int, *, projects: int, departments: int) -> None:
    """`count` nodes in W46, spread over projects, departments, assignees and every status."""
    owner = UserFactory(password=None)
    project_list = BaselinedProjectFactory.create_batch(projects, owner=owner)
    department_list = DepartmentFactory.create_batch(departments)
    assignees = UserFactory.create_batch(3, password=None)
    on_time, late = timedelta(0), timedelta(minutes=30)
    statuses = [(DONE, on_time), (DONE, late), (TODO, None), (BLOCKED, None), (CANCELLED, None)]
    nodes = []
    for i in range(count):
        due = t("11-09 08:00") + timedelta(minutes=37 * i % (6 * 24 * 60))
        status, completed_after_due = statuses[i % len(statuses)]
        nodes.append(
            Milestone(
                project=project_list[i % projects],
                department=department_list[i % departments],
                assignee=assignees[i % 3],
                title=f"Node {i}",
                due_at=due,
                status=status,
                completed_at=None if completed_after_due is None else due + completed_after_due,
                position=i,
            )
        )
    Milestone.objects.bulk_create(nodes)


def _count_queries(report) -> int:
    with CaptureQueriesContext(connection) as queries:
        report()
    return len(queries)


REPORTS = {
    "deviation_report": lambda project_id: deviation_report(
        period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK)
    ),
    "deviation_report-one-project": lambda project_id: deviation_report(
        period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK), project_id=project_id
    ),
    "monthly_report": lambda project_id: monthly_report(
        period=parse_month("2026-11"), as_of=t(AFTER_THE_WEEK)
    ),
    "weekly_trend": lambda project_id: weekly_trend(weeks=8, as_of=t(AFTER_THE_WEEK)),
}
# The week's one pass (headline, departments and projects with their names, working-day slips,
# worst slips with their titles, the nodes left out and the backlog), the re-baseline check
# before it and the working calendar (one per year) after it. The monthly report's analysis
# (tracker/reports/analysis.py, tests/reports/test_analysis.py) adds its own.
BUDGET = {
    "deviation_report": 3,
    "deviation_report-one-project": 3,
    "monthly_report": 22,
    "weekly_trend": 2,
}
# Without GROUPING SETS (SQLite) the pass is nine queries: headline, departments and their
# names, projects and their names, working-day slips, worst slips, the nodes left out and the
# backlog (selectors._week_pass_portable).
PORTABLE_PASS_EXTRA = 8


@pytest.mark.parametrize("name", REPORTS)
def test_query_count_does_not_grow_with_the_nodes(db, name):
    _bulk_nodes(10, projects=2, departments=2)
    project_id = Milestone.objects.values_list("project_id", flat=True).first()
    small = _count_queries(lambda: REPORTS[name](project_id))

    _bulk_nodes(290, projects=6, departments=5)
    assert deviation_report(period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK))["due_count"] == 240
    large = _count_queries(lambda: REPORTS[name](project_id))

    assert small == large
    extra = (
        0 if connection.vendor == "postgresql" or name == "weekly_trend" else PORTABLE_PASS_EXTRA
    )
    assert large <= BUDGET[name] + extra


@pytest.mark.postgresql(reason="GROUPING SETS; SQLite has the portable pass")
@pytest.mark.parametrize("scope", ["all", "project", "department"])
def test_weekly_report_reads_its_week_in_one_grouping_sets_pass(db, scope):
    """Headline, departments, projects, slips in working days and the worst slips come from one
    statement over the week: no other query groups or sorts the week's nodes."""
    _bulk_nodes(60, projects=3, departments=3)
    node = Milestone.objects.order_by("id").first()
    kwargs = {
        "all": {},
        "project": {"project_id": node.project_id},
        "department": {"department_id": node.department_id},
    }[scope]
    with CaptureQueriesContext(connection) as captured:
        report = deviation_report(period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK), **kwargs)
    statements = [q["sql"] for q in captured]
    passes = [sql for sql in statements if "GROUPING SETS" in sql]
    assert len(passes) == 1
    assert "(department_id), (project_id), (planned_day, done_day)" in passes[0]
    assert not [sql for sql in statements if "GROUP BY" in sql and sql not in passes]
    assert report["due_count"] > 0 and report["worst_slips"] and report["by_project"]
    assert report["mean_slip_working_days"] is not None


@pytest.mark.postgresql(reason="the pass's planner settings are PostgreSQL's")
@pytest.mark.parametrize(
    "in_transaction",
    [
        pytest.param(True, marks=pytest.mark.django_db),
        pytest.param(False, marks=pytest.mark.django_db(transaction=True)),  # autocommit
    ],
)
def test_the_weekly_pass_sets_its_planner_settings_for_itself_alone(in_transaction):
    """The pass runs without parallel workers or JIT (the planner overestimates the backlog),
    and leaves the connection's settings as they were, a session's own SET included."""
    assert connection.get_autocommit() is not in_transaction
    _bulk_nodes(20, projects=2, departments=2)
    read = "SELECT current_setting('max_parallel_workers_per_gather'), current_setting('jit')"
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 1")
        try:
            cursor.execute(read)
            before = cursor.fetchone()
            with CaptureQueriesContext(connection) as captured:
                report = deviation_report(period=parse_week(WEEK), as_of=t(AFTER_THE_WEEK))
            cursor.execute(read)
            assert cursor.fetchone() == before == ("1", before[1])
        finally:
            cursor.execute("RESET max_parallel_workers_per_gather")
    (statement,) = [q["sql"] for q in captured if "GROUPING SETS" in q["sql"]]
    assert "SET LOCAL max_parallel_workers_per_gather = 0;" in statement
    assert "SET LOCAL jit = off;" in statement
    assert report["due_count"] == 16 and report["by_project"] and report["worst_slips"]
