"""The monthly analysis against figures worked by hand over the campaigns of `conftest.py`
(and docs/monthly-analysis.md)."""

from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import BaselinedProjectFactory, MilestoneFactory
from tests.reports.conftest import AS_OF, at
from tracker.milestones.models import DeviationReason, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.models import ProjectTemplate
from tracker.reports.analysis import lateness_bucket, monthly_analysis, promises
from tracker.reports.periods import parse_month
from tracker.reports.selectors import monthly_report, report_of_record, report_population
from tracker.reports.services import report_snapshot_save

pytestmark = pytest.mark.django_db
NOVEMBER = parse_month("2026-11")


@pytest.fixture
def analysis(campaigns):
    return monthly_analysis(NOVEMBER, AS_OF)


def test_month_over_month_and_year_over_year(analysis):
    # November 2026: 6 due (the cancelled and the unbaselined nodes are left out), 5 deviated.
    comparisons = analysis["comparisons"]
    # October's figure of record is its snapshot (25%), not today's recomputation (0%).
    assert comparisons["previous_month"] == {
        "month": "2026-10",
        "deviation_rate": 0.25,
        "due_count": 4,
        "late_count": 1,
        "deviated_count": 1,
        "rate_change": 0.5833,  # 0.8333 − 0.25
    }
    assert comparisons["same_month_last_year"] == {
        "month": "2025-11",
        "deviation_rate": 0.5,
        "due_count": 4,
        "late_count": 2,
        "deviated_count": 2,
        "rate_change": 0.3333,
    }


def test_no_data_a_year_before_is_null(campaigns):
    analysis = monthly_analysis(parse_month("2026-06"), AS_OF)
    assert analysis["comparisons"]["same_month_last_year"] is None
    previous = analysis["comparisons"]["previous_month"]
    assert previous["month"] == "2026-05"
    assert previous["deviation_rate"] is None
    assert previous["rate_change"] is None


def test_trend_of_twelve_months(analysis):
    trend = {row["month"]: row for row in analysis["trend_12_months"]}
    assert list(trend)[::11] == ["2025-12", "2026-11"]
    assert len(trend) == 12
    assert trend["2025-12"] == {
        "month": "2025-12",
        "deviation_rate": 0.25,
        "due_count": 4,
        "late_count": 1,
        "deviated_count": 1,
    }
    assert trend["2026-06"]["deviation_rate"] == 0.25
    assert trend["2026-10"]["deviation_rate"] == 0.25  # of record
    assert trend["2026-11"]["deviation_rate"] == 0.8333
    assert (trend["2026-11"]["due_count"], trend["2026-11"]["late_count"]) == (6, 4)
    assert trend["2026-03"] == {
        "month": "2026-03",
        "deviation_rate": None,
        "due_count": 0,
        "late_count": 0,
        "deviated_count": 0,
    }


def test_who_really_slipped(campaigns, analysis):
    # stock-ready (supply) 7 own; banner (design) 8 = 7 inherited from it + 1 own;
    # after-sales (ops) open, 13 own; warehouse (supply) 2 own; page-review late by hours, 0.
    departments = analysis["attribution"]["departments"]
    assert [
        (d["name"], d["late_count"], d["own_days"], d["inherited_days"]) for d in departments
    ] == [
        ("Operations", 1, 13.0, 0.0),
        ("Supply", 2, 9.0, 0.0),
        ("Design", 1, 1.0, 7.0),
    ]
    caused = {d["name"]: d["caused_downstream_days"] for d in departments}
    assert caused == {"Operations": 0.0, "Supply": 7.0, "Design": 0.0}
    [project] = analysis["attribution"]["projects"]
    assert project["project_id"] == campaigns.projects["Double 11"].pk
    assert (project["late_count"], project["own_days"], project["inherited_days"]) == (4, 23.0, 7.0)
    assert project["caused_downstream_days"] == 7.0


def test_reason_pareto(analysis):
    name = {r.code: r.name_en for r in DeviationReason.objects.all()}
    assert analysis["pareto"] == [
        {
            "reason_code": "supplier",
            "name": name["supplier"],
            "deviated_count": 2,
            "slip_days": 9.0,
            "share": 0.4,
            "cumulative_share": 0.4,
        },
        # One node each: by slip days.
        {
            "reason_code": "resource",
            "name": name["resource"],
            "deviated_count": 1,
            "slip_days": 13.0,
            "share": 0.2,
            "cumulative_share": 0.6,
        },
        {
            "reason_code": "upstream_late",
            "name": name["upstream_late"],
            "deviated_count": 1,
            "slip_days": 8.0,
            "share": 0.2,
            "cumulative_share": 0.8,
        },
        {
            "reason_code": "unspecified",
            "name": "Unspecified",
            "deviated_count": 1,
            "slip_days": 0.0,
            "share": 0.2,
            "cumulative_share": 1.0,
        },
    ]


def test_lateness_distribution(analysis):
    rows = {row["name"]: row for row in analysis["distribution"]}
    keys = ("on_time", "up_to_1", "from_1_to_3", "from_3_to_7", "over_7", "open")
    assert [name for name in rows] == ["Design", "Operations", "Supply", "All departments"]
    assert [rows["Design"][k] for k in keys] == [0, 1, 0, 0, 1, 0]
    assert [rows["Operations"][k] for k in keys] == [1, 0, 0, 0, 0, 1]
    assert [rows["Supply"][k] for k in keys] == [0, 0, 1, 1, 0, 0]
    assert [rows["All departments"][k] for k in keys] == [1, 1, 1, 1, 1, 1]
    assert rows["All departments"]["totals"] is True
    assert rows["All departments"]["department_id"] is None
    assert rows["Supply"]["totals"] is False


@pytest.mark.parametrize(
    ("deviated", "done", "slip", "bucket"),
    [
        (False, True, 0, "on_time"),
        (True, True, 0, "up_to_1"),  # late by hours on the same day
        (True, True, 1, "up_to_1"),
        (True, True, 2, "from_1_to_3"),
        (True, True, 3, "from_1_to_3"),
        (True, True, 4, "from_3_to_7"),
        (True, True, 7, "from_3_to_7"),
        (True, True, 8, "over_7"),
        (True, False, 20, "open"),
    ],
)
def test_lateness_buckets(deviated, done, slip, bucket):
    assert lateness_bucket(deviated=deviated, done=done, slip_days=slip) == bucket


def test_repeat_offenders(campaigns, analysis):
    # Last three campaigns: Double 12 2025, 618, Double 11. Double 11 2025 is a fourth: its late
    # banner is not listed, and its late after-sales does not make a repeat offender.
    design, supply = campaigns.departments["design"], campaigns.departments["supply"]
    assert analysis["repeat_offenders"] == [
        {
            "template_id": campaigns.template.pk,
            "template_name": "Double X",
            "template_key": "banner",
            "title": "Banner",
            "department_id": design.pk,
            "department_name": "Design",
            "late_in": ["Double 12 2025", "Double 11"],
            "of_campaigns": 3,
        },
        {
            "template_id": campaigns.template.pk,
            "template_name": "Double X",
            "template_key": "stock-ready",
            "title": "Stock ready",
            "department_id": supply.pk,
            "department_name": "Supply",
            "late_in": ["618", "Double 11"],
            "of_campaigns": 3,
        },
    ]


def test_repeat_offenders_narrowed_to_a_department(campaigns):
    analysis = monthly_analysis(NOVEMBER, AS_OF, department_id=campaigns.departments["supply"].pk)
    assert [r["template_key"] for r in analysis["repeat_offenders"]] == ["stock-ready"]


def test_churn_and_promise_kept_rate(analysis):
    # banner: promised 12 Nov, done 16 Nov (broken). after-sales: 20 Nov passed while open
    # (broken), 10 Dec not yet due (not judged). warehouse: 26 Nov 18:00, done 12:00 (kept).
    # go-live's date moved in September, before the baseline: no promise.
    churn = analysis["churn"]
    assert [
        (d["name"], d["replanned_nodes"], d["replans"], d["promises"], d["promises_kept"])
        for d in churn["departments"]
    ] == [("Operations", 1, 2, 1, 0), ("Design", 1, 1, 1, 0), ("Supply", 1, 1, 1, 1)]
    assert [d["promise_kept_rate"] for d in churn["departments"]] == [0.0, 0.0, 1.0]
    assert churn["totals"] == {
        "replanned_nodes": 3,
        "replans": 4,
        "promises": 3,
        "promises_kept": 1,
        "promise_kept_rate": 0.3333,
    }


def test_promise_rows(campaigns):
    nodes = report_population(start=NOVEMBER.start, end=NOVEMBER.end, as_of=AS_OF)
    rows = sorted(promises(nodes=nodes, as_of=AS_OF), key=lambda row: row["promised_at"])
    after_sales = campaigns.nodes["after-sales"]
    assert [(row["node_id"], row["promised_at"], row["kept"]) for row in rows] == [
        (campaigns.nodes["banner"].pk, at(2026, 11, 12), False),
        (after_sales.pk, at(2026, 11, 20), False),
        (campaigns.nodes["warehouse"].pk, at(2026, 11, 26), True),
        (after_sales.pk, at(2026, 12, 10), None),
    ]
    assert rows[0]["department_id"] == campaigns.departments["design"].pk


def test_empty_month():
    analysis = monthly_analysis(NOVEMBER, AS_OF)
    assert analysis["month"] == "2026-11"
    assert analysis["attribution"] == {"departments": [], "projects": []}
    assert analysis["pareto"] == analysis["distribution"] == analysis["repeat_offenders"] == []
    assert analysis["churn"]["totals"]["promise_kept_rate"] is None
    assert analysis["comparisons"]["same_month_last_year"] is None
    assert len(analysis["trend_12_months"]) == 12


def test_monthly_report_carries_it(campaigns):
    report = monthly_report(period=NOVEMBER, as_of=AS_OF)
    assert report["analysis"]["month"] == "2026-11"
    assert report["analysis"]["pareto"][0]["reason_code"] == "supplier"


def _queries(**scope) -> int:
    with CaptureQueriesContext(connection) as captured:
        monthly_analysis(NOVEMBER, AS_OF, **scope)
    return len(captured)


def test_constant_queries(campaigns):
    """The same number of queries however many nodes, projects, templates and departments the
    month has."""
    _queries()  # the working calendar keeps the years it has read
    before = _queries()
    main = campaigns.projects["Double 11"]
    other = ProjectTemplate.objects.create(code="other", name="Other", kind="campaign")
    for index in range(12):
        project = BaselinedProjectFactory(
            owner=campaigns.owner, template=other, d_day=at(2026, 11, 20), war_room=False
        )
        for department in campaigns.departments.values():
            MilestoneFactory(
                project=project if index % 2 else main,
                department=department,
                template_key="banner",
                due_at=at(2026, 11, 3 + index),
                status=MilestoneStatus.DONE if index % 3 else MilestoneStatus.TODO,
            )
    assert _queries() == before
    assert before <= 16


def test_the_figure_of_record_keeps_its_analysis(campaigns):
    """A closed month's snapshot keeps the analysis it was sent with; a later completion shows
    in today's recomputation only."""
    report_snapshot_save(period=NOVEMBER, as_of=AS_OF)
    after_sales = campaigns.nodes["after-sales"]
    milestone_update(
        milestone_id=after_sales.pk,
        actor=campaigns.owner,
        data={"status": MilestoneStatus.DONE, "completed_at": at(2026, 12, 4)},
        reason_code="resource",
        now=at(2026, 12, 4, 19),
    )
    later = at(2026, 12, 5, 9)
    record = report_of_record(period=NOVEMBER, as_of=later)
    assert record["of_record"] is True
    totals = record["analysis"]["distribution"][-1]
    assert (totals["open"], totals["over_7"]) == (1, 1)
    live = monthly_report(period=NOVEMBER, as_of=later)["analysis"]["distribution"][-1]
    assert (live["open"], live["over_7"]) == (0, 2)


def test_narrowed_to_a_project(campaigns):
    """A project's analysis: its own nodes and months (October's snapshot is of all projects,
    not of this one), and its template's campaigns for the repeat offenders."""
    analysis = monthly_analysis(NOVEMBER, AS_OF, project_id=campaigns.projects["Double 11"].pk)
    previous = analysis["comparisons"]["previous_month"]
    assert (previous["due_count"], previous["deviation_rate"]) == (0, None)
    assert analysis["comparisons"]["same_month_last_year"] is None
    assert [d["name"] for d in analysis["attribution"]["departments"]] == [
        "Operations",
        "Supply",
        "Design",
    ]
    assert [r["template_key"] for r in analysis["repeat_offenders"]] == ["banner", "stock-ready"]
    assert analysis["churn"]["totals"]["promises"] == 3


def test_the_command_prints_the_analysis_in_brief(campaigns):
    out = StringIO()
    with time_machine.travel(AS_OF, tick=False):
        call_command("monthly_report", "--month", "2026-11", stdout=out)
    text = out.getvalue()
    assert "Against 2026-10 (25.0%): +58.3 points" in text
    assert "Against 2025-11 (50.0%): +33.3 points" in text
    assert "Reason Supplier or stock delay: 2 nodes, 9 working days (40.0%)" in text
    assert "Late again: Stock ready (Supply) in 618, Double 11" in text
    assert "Promises kept: 33.3% (1 of 3)" in text
