"""Slip attribution and the forecast (docs/forecast.md), as tables of small graphs.

Pure functions: the calendar here is Monday to Friday, and `W(n)` is the n-th working day after
Monday 2 March 2026 (W(5) is the next Monday), at 18:00 in the organisation's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker.milestones.forecast import (
    Attribution,
    Node,
    WorkingDays,
    attribute,
    forecast,
    summarize,
)
from tracker.milestones.models import MilestoneStatus

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)
DAYS = WorkingDays(lambda d: d.weekday() < 5, MONDAY - timedelta(days=60), MONDAY + timedelta(120))
DONE, OPEN, CANCELLED = MilestoneStatus.DONE, MilestoneStatus.TODO, MilestoneStatus.CANCELLED


def W(n: int, at: time = time(18)) -> datetime:
    return datetime.combine(DAYS.add(MONDAY, n), at, tzinfo=ZONE)


def node(pk, planned, *, done=None, status=None, dept=1, ups=(), due=None):
    """A node planned (and due) on W(planned), done on W(done) when given."""
    status = status or (DONE if done is not None else OPEN)
    return Node(
        id=pk,
        department_id=dept,
        status=status,
        due_at=W(due if due is not None else planned),
        planned_at=W(planned),
        completed_at=W(done) if done is not None else None,
        upstream=tuple((u, None) if isinstance(u, str) else u for u in ups),
    )


def graph(*nodes):
    return {n.id: n for n in nodes}


def test_working_days_arithmetic_matches_the_calendar():
    assert DAYS.between(MONDAY, MONDAY + timedelta(days=7)) == 5
    assert DAYS.between(MONDAY + timedelta(days=7), MONDAY) == -5
    assert DAYS.add(MONDAY, 5) == MONDAY + timedelta(days=7)
    assert DAYS.add(MONDAY + timedelta(days=7), -5) == MONDAY
    friday = MONDAY + timedelta(days=4)
    assert DAYS.add(friday, 1) == MONDAY + timedelta(days=7)  # over the weekend
    assert DAYS.add(MONDAY + timedelta(days=5), -1) == friday  # from a Saturday
    far = MONDAY + timedelta(days=400)  # outside the span: the slow path agrees
    assert DAYS.between(MONDAY, far) == sum(
        (MONDAY + timedelta(days=n)).weekday() < 5 for n in range(1, 401)
    )
    assert DAYS.between(far, DAYS.add(far, 7)) == 7


# Attribution ----------------------------------------------------------------------------------

NOW = W(20, time(12))

# Each case: its nodes, then {node: (slip, inherited, own, caused_downstream, inherited_from)}.
ATTRIBUTION_CASES = {
    # The first worked case: A 3 days late, B adds 1; C inherits 4 = 3 (A) + 1 (B).
    "chain": (
        graph(
            node("A", 0, done=3),
            node("B", 5, done=9, ups=["A"]),
            node("C", 10, done=14, ups=["B"]),
        ),
        {
            "A": (3, 0, 3, 6, None),
            "B": (4, 3, 1, 1, "A"),
            "C": (4, 4, 0, 0, "B"),
        },
    ),
    # The worst upstream counts, never a sum: C inherits 5, charged to B.
    "diamond": (
        graph(
            node("A", 0, done=2),
            node("B", 0, done=5),
            node("C", 5, done=10, ups=["A", "B"]),
        ),
        {"A": (2, 0, 2, 0, None), "B": (5, 0, 5, 5, None), "C": (5, 5, 0, 0, "B")},
    ),
    # 3 days late over a 3-day planned gap with a declared 1-day lead (2 days of slack).
    "declared lead": (
        graph(node("U", 0, done=3), node("N", 3, done=6, ups=[("U", 1)])),
        {"U": (3, 0, 3, 1, None), "N": (3, 1, 2, 0, "U")},
    ),
    "parallel branches": (
        graph(
            node("A", 0, done=2),
            node("B", 5, done=7, ups=["A"]),
            node("C", 0, done=0),
            node("D", 5, done=6, ups=["C"]),
        ),
        {
            "A": (2, 0, 2, 2, None),
            "B": (2, 2, 0, 0, "A"),
            "C": (0, 0, 0, 0, None),
            "D": (1, 0, 1, 0, None),
        },
    ),
    # Done three days early: nothing reaches N, which is late on its own.
    "upstream done early": (
        graph(node("U", 5, done=2), node("N", 6, done=8, ups=["U"])),
        {"U": (0, 0, 0, 0, None), "N": (2, 0, 2, 0, None)},
    ),
    # The same with a 5-day declared lead: finish(U) + 5 passes planned(N) by 1.
    "upstream done early, long declared lead": (
        graph(node("U", 5, done=2), node("N", 6, done=8, ups=[("U", 5)])),
        {"U": (0, 0, 0, 0, None), "N": (2, 1, 1, 0, "U")},
    ),
    # A cancelled node has no slip and passes nothing on.
    "cancelled node in the middle": (
        graph(
            node("A", 0, done=3),
            node("B", 5, status=CANCELLED, ups=["A"]),
            node("C", 10, done=13, ups=["B"]),
        ),
        {"A": (3, 0, 3, 0, None), "C": (3, 0, 3, 0, None)},
    ),
    # Open nodes finish "now" (W20 at noon).
    "open nodes": (
        graph(node("A", 16), node("B", 18, ups=["A"])),
        {"A": (4, 0, 4, 2, None), "B": (2, 2, 0, 0, "A")},
    ),
}


@pytest.mark.parametrize("case", ATTRIBUTION_CASES)
def test_attribution(case):
    nodes, expected = ATTRIBUTION_CASES[case]
    got = attribute(nodes, now=NOW, days=DAYS)
    assert {
        pk: (a.slip, a.inherited, a.own, a.caused_downstream, a.inherited_from)
        for pk, a in got.items()
    } == expected


def test_ties_charge_the_earliest_planned_upstream():
    nodes = graph(node("A", 1, done=4), node("B", 0, done=3), node("C", 5, done=9, ups=["A", "B"]))
    got = attribute(nodes, now=NOW, days=DAYS)
    # Both deliver 3 days to C (A: lead 4 from W4 to W5; B: lead 5 from W3 to W5): the earliest
    # planned, B, is charged.
    assert got["C"].inherited_from == "B"
    assert got["B"].caused_downstream == got["C"].inherited


def test_per_department_totals_charge_other_departments():
    """A chain across departments: merchandising's 3 days reach two nodes of logistics."""
    merch, logistics = 1, 2
    nodes = graph(
        node("A", 0, done=3, dept=merch),
        node("B", 5, done=9, ups=["A"], dept=logistics),
        node("C", 10, done=14, ups=["B"], dept=logistics),
        node("D", 0, done=0, dept=merch),
    )
    result = summarize(nodes, attribute(nodes, now=NOW, days=DAYS))
    totals = {
        department: (
            t.nodes_late,
            t.own_days,
            t.inherited_days,
            t.caused_downstream_other_departments,
        )
        for department, t in result.departments.items()
    }
    assert totals == {merch: (1, 3, 0, 6), logistics: (2, 1, 7, 0)}
    project = result.project
    assert (project.nodes_late, project.own_days, project.inherited_days) == (3, 4, 7)
    assert result.nodes["B"] == Attribution(
        slip=4, inherited=3, own=1, caused_downstream=1, inherited_from="A"
    )


# Forecast -------------------------------------------------------------------------------------

# Each case: nodes, now, D-day, then {node: (forecast, float, days late)} and the critical path.
FORECAST_CASES = {
    # A is overdue (due W2, now W4): its forecast is now, and the chain is pushed 2 days.
    "chain": (
        graph(node("A", 2), node("B", 5, ups=["A"]), node("C", 8, ups=["B"])),
        W(4, time(12)),
        W(8),
        {"A": (W(4, time(12)), -2, 2), "B": (W(7), -2, 2), "C": (W(10), -2, 2)},
        ["A", "B", "C"],
    ),
    # A done on time, B overdue by a day: C is pushed by B, which is on the critical path.
    "diamond": (
        graph(node("A", 1, done=1), node("B", 3), node("C", 6, ups=["A", "B"])),
        W(4, time(12)),
        W(8),
        {"A": (W(1), 0, 0), "B": (W(4, time(12)), -1, 1), "C": (W(7), 1, 1)},
        ["B", "C"],
    ),
    "declared lead": (
        graph(node("U", 0), node("N", 3, ups=[("U", 1)])),
        W(3, time(12)),
        W(3),
        {"U": (W(3, time(12)), -1, 3), "N": (W(4), -1, 1)},
        ["U", "N"],
    ),
    "the planned gap without a declared lead": (
        graph(node("U", 0), node("N", 3, ups=["U"])),
        W(3, time(12)),
        W(3),
        {"U": (W(3, time(12)), -3, 3), "N": (W(6), -3, 3)},
        ["U", "N"],
    ),
    "cancelled node in the middle": (
        graph(node("A", 0), node("B", 2, status=CANCELLED, ups=["A"]), node("C", 4, ups=["B"])),
        W(3, time(12)),
        W(6),
        {"A": (W(3, time(12)), 3, 3), "C": (W(4), 2, 0)},
        ["C"],
    ),
    "upstream done early": (
        graph(node("U", 5, done=2), node("N", 6, ups=["U"])),
        W(1),
        W(6),
        {"U": (W(2), 3, 0), "N": (W(6), 0, 0)},
        ["U", "N"],
    ),
    "parallel branches: the critical path is the one with least float": (
        graph(
            node("A", 0),
            node("B", 5, ups=["A"]),
            node("C", 0, done=0),
            node("D", 5, ups=["C"]),
        ),
        W(2, time(12)),
        W(6),
        {
            "A": (W(2, time(12)), -2, 2),
            "B": (W(7), -1, 2),
            "C": (W(0), 0, 0),
            "D": (W(5), 1, 0),
        },
        ["A", "B"],
    ),
    "nothing late: float up to the D-day": (
        graph(node("A", 2), node("B", 4, ups=["A"]), node("C", 3, dept=2)),
        W(0, time(9)),
        W(6),
        {"A": (W(2), 0, 0), "B": (W(4), 2, 0), "C": (W(3), 3, 0)},
        ["A", "B"],
    ),
}


@pytest.mark.parametrize("case", FORECAST_CASES)
def test_forecast(case):
    nodes, now, d_day, expected, path = FORECAST_CASES[case]
    schedule = forecast(nodes, now=now, d_day=d_day, days=DAYS)
    assert {
        pk: (f.forecast_at, f.float_days, f.days_late) for pk, f in schedule.nodes.items()
    } == expected
    assert schedule.critical_path == path
    assert {pk for pk, f in schedule.nodes.items() if f.on_critical_path} == set(path)
    assert schedule.d_day_float_days == expected[path[-1]][1]


def test_a_node_due_after_the_d_day_is_judged_against_its_own_due_date():
    """A wrap-up node at D+3 has no downstream: its latest finish is its due, not the D-day."""
    nodes = graph(node("A", 2), node("Wrap-up", 9, ups=["A"]))
    schedule = forecast(nodes, now=W(0), d_day=W(6), days=DAYS)
    assert schedule.nodes["Wrap-up"].float_days == 0
    assert schedule.d_day_float_days == 0
