"""Forecast, float and critical path of a 2,000-node project (docs/forecast.md): target < 200 ms.

Measures `project_schedule` (the nodes and links read in two queries, one pass forward, one
back, in working days of the real calendar) and `project_forecast_refresh` (the same, persisted:
the scan's step), each the median of several runs. Runs in a throwaway database of its own
(benchmarks/harness.py: pid-named, dropped at the end), so two runs never touch each other.
Usage: ``python -m benchmarks.bench_forecast``.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from benchmarks.harness import bench_database, figure, setup_django, write_figures

NODES = 2000
DEPARTMENTS = 7
RUNS = 15
WARMUP = 2
TARGET_MS = 200.0


def _build_project():
    """2,000 nodes over 120 days in seven departments; each depends on one to three earlier
    nodes (a layered graph with long chains and diamonds), one link in ten with a declared
    lead; the first fifth done, a tenth of the rest overdue. The real working calendar (no war
    room), so the arithmetic reads holidays and weekends."""
    from django.utils import timezone

    from tracker.accounts.models import Department, User
    from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
    from tracker.projects.models import Project

    rng = random.Random(15)
    owner = User.objects.create_user("bench-owner")
    departments = [
        Department.objects.create(name=f"Dept {index}", code=f"d{index}") for index in range(7)
    ]
    now = timezone.now()
    start = now - timedelta(days=30)
    project = Project.objects.create(
        name="Bench forecast",
        kind="campaign",
        d_day=start + timedelta(days=125),
        owner=owner,
        war_room=False,
    )
    nodes = []
    for index in range(NODES):
        due = start + timedelta(hours=index * 120 * 24 / NODES)
        done = index < NODES // 5
        nodes.append(
            Milestone(
                project=project,
                title=f"Node {index}",
                department=departments[index % DEPARTMENTS],
                due_at=due,
                status=MilestoneStatus.DONE if done else MilestoneStatus.TODO,
                completed_at=due + timedelta(hours=rng.choice([-20, 0, 30, 70])) if done else None,
                position=index,
            )
        )
    nodes = Milestone.objects.bulk_create(nodes)
    links = []
    for index in range(1, NODES):
        for upstream in {max(0, index - rng.randint(1, 40)) for _ in range(rng.randint(1, 3))}:
            links.append(
                MilestoneDependency(
                    milestone=nodes[index],
                    depends_on=nodes[upstream],
                    min_lead_days=rng.randint(0, 3) if rng.random() < 0.1 else None,
                )
            )
    MilestoneDependency.objects.bulk_create(links)
    return project, len(links)


def _timed(call, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure() -> dict[str, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tracker.milestones.forecast import project_forecast_refresh, project_schedule

    project, links = _build_project()
    now = timezone.now()
    started = time.perf_counter()
    schedule = project_forecast_refresh(project=project, now=now)  # writes every node once
    first_refresh = (time.perf_counter() - started) * 1000
    for _ in range(WARMUP):
        project_schedule(project=project, now=now)
    schedule_ms = _timed(lambda: project_schedule(project=project, now=now), RUNS)
    refresh_ms = _timed(lambda: project_forecast_refresh(project=project, now=now), RUNS)
    with CaptureQueriesContext(connection) as captured:
        project_schedule(project=project, now=now)
    return {
        "links": links,
        "schedule_ms": schedule_ms,
        "refresh_ms": refresh_ms,
        "first_refresh_ms": first_refresh,
        "queries": len(captured),
        "critical_path": len(schedule.critical_path),
        "late": sum(1 for node in schedule.nodes.values() if node.days_late),
    }


def main() -> int:
    setup_django()
    with bench_database("forecast"):
        result = measure()
    context = (
        f"{NODES} nodes, {result['links']} links, {result['late']} forecast late, critical path"
        f" of {result['critical_path']} nodes, {result['queries']} SQL queries"
    )
    figure(
        f"forecast, {NODES} nodes (read and compute)",
        result["schedule_ms"],
        unit=" ms",
        target=f"<= {TARGET_MS:.0f}",
        detail=context,
    )
    figure(
        f"forecast refresh, {NODES} nodes (persisted, nothing changed)",
        result["refresh_ms"],
        unit=" ms",
        target=f"<= {TARGET_MS:.0f}",
    )
    figure(
        f"forecast first refresh (writes all {NODES} nodes)",
        [result["first_refresh_ms"]],
        unit=" ms",
        target=None,
    )
    write_figures()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
