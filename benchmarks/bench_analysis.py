"""The monthly deep analysis (docs/monthly-analysis.md) of a month of 3,000 nodes:
`monthly_analysis` ÷ one aggregate statement over the same month's nodes, and its time against
an absolute budget.

The data: 12 departments; 4 templates of 100 nodes; 30 campaigns of them whose 100 nodes each
fall in the month analysed (3,000 nodes, four a day), and three earlier rounds of every
template, a month apart (the repeat offenders' campaigns); every node linked to one or two
earlier nodes of its project
(chains and diamonds, one link in ten with a declared lead); three in ten done late by 1-14
days with a reason code, one in ten still open past its planned due, a re-plan on one
node in eight; the real working calendar (no war room). The floor reads the month's rows of
the node table in one statement grouped by department (the figures the analysis' distribution
and Pareto start from, without the slip attribution, the reasons or the campaigns): the least
any analysis of the month costs. A and B in turn, BENCH_ROUNDS rounds.

Usage: ``python -m benchmarks.bench_analysis`` (``make bench`` runs it with the others).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import datetime, timedelta
from datetime import time as clock

from benchmarks.harness import (
    ROUNDS,
    alternate,
    bench_database,
    figure,
    setup_django,
    timed,
    write_figures,
)

NODES = int(os.environ.get("BENCH_ANALYSIS_NODES", 3_000))
DEPARTMENTS = 12
TEMPLATES = 4
NODES_PER_PROJECT = 100
# The budget: the monthly page, the API and the exports compute the analysis on each request
# (a closed month's snapshot keeps it, a month still open does not), so it must answer as a page
# does: half a second for a month of 3,000 nodes. The floor (one aggregate statement) is the
# least a month's figures cost; the attribution walks each project's graph in working days,
# which no one statement does, so the ratio is printed as context, not as the target.
BUDGET_MS = 500
REASONS = ("supplier", "upstream_late", "resource", "technical", "approval", "scope_change")

FLOOR = """
SELECT department_id, count(*),
    count(*) FILTER (WHERE status = 'done' AND completed_at > planned),
    count(*) FILTER (WHERE status <> 'done'),
    avg(CASE WHEN status = 'done' THEN completed_at ELSE %(as_of)s END - planned)
        FILTER (WHERE status <> 'done' OR completed_at > planned)
FROM (
    SELECT m.*, COALESCE(m.baseline_due_at, m.due_at) AS planned
    FROM milestones_milestone AS m
    JOIN projects_project AS p ON p.id = m.project_id AND p.baselined_at IS NOT NULL
    WHERE m.status <> 'cancelled'
) AS month
WHERE planned >= %(start)s AND planned < %(end)s AND planned <= %(as_of)s
GROUP BY department_id
"""


def generate(month_start: datetime, as_of: datetime) -> int:
    """The templates, their campaigns (the month's and three earlier rounds), nodes, links,
    reasons and re-plans. Returns the month's node count."""
    from django.contrib.auth import get_user_model

    from tracker.accounts.models import Department
    from tracker.milestones.models import (
        Milestone,
        MilestoneChange,
        MilestoneDependency,
        MilestoneStatus,
    )
    from tracker.projects.models import Project, ProjectStatus, ProjectTemplate, TemplateNode

    rng = random.Random(19)
    owner = get_user_model().objects.create_user("bench-analysis-owner")
    departments = Department.objects.bulk_create(
        Department(name=f"Department {i}", code=f"d{i}") for i in range(DEPARTMENTS)
    )
    templates = ProjectTemplate.objects.bulk_create(
        ProjectTemplate(code=f"t{i}", name=f"Template {i}", kind="campaign")
        for i in range(TEMPLATES)
    )
    TemplateNode.objects.bulk_create(
        TemplateNode(
            template=template,
            key=f"n{k}",
            title=f"Node {k}",
            department_code=f"d{k % DEPARTMENTS}",
            offset_days=k // 4 - 25,
            time_of_day=clock(10),
            position=k,
        )
        for template in templates
        for k in range(NODES_PER_PROJECT)
    )
    in_month = max(1, NODES // NODES_PER_PROJECT)
    # The month's campaigns, then three earlier rounds of every template (repeat offenders).
    campaigns = [(i % TEMPLATES, 0) for i in range(in_month)]
    campaigns += [(t, r) for r in (1, 2, 3) for t in range(TEMPLATES)]
    projects = Project.objects.bulk_create(
        Project(
            name=f"Campaign {i}",
            kind="campaign",
            template=templates[t],
            d_day=month_start + timedelta(days=25 - 30 * r, hours=i % 10),
            owner=owner,
            status=ProjectStatus.ACTIVE,
            baselined_at=month_start - timedelta(days=60 + 30 * r),
            war_room=False,
        )
        for i, (t, r) in enumerate(campaigns)
    )
    nodes = []
    fates = []
    for project in projects:
        for k in range(NODES_PER_PROJECT):
            # 100 nodes over the 25 days before the D-day (4 a day), 18:00 local
            due = project.d_day - timedelta(days=25 - k // 4, hours=project.d_day.hour - 10)
            roll = rng.random()
            if due > as_of or roll < 0.6:
                fate = "on_time" if due <= as_of else "future"
            elif roll < 0.9:
                fate = "late"
            else:
                fate = "open"
            done = fate in ("on_time", "late")
            completed = None
            if fate == "on_time":
                completed = due - timedelta(hours=rng.randint(1, 48))
            elif fate == "late":
                completed = due + timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 5))
            nodes.append(
                Milestone(
                    project=project,
                    title=f"Node {k}",
                    department=departments[k % DEPARTMENTS],
                    due_at=due,
                    baseline_due_at=due,
                    status=MilestoneStatus.DONE if done else MilestoneStatus.TODO,
                    completed_at=completed if done and completed <= as_of else None,
                    position=k,
                    template_key=f"n{k}",
                )
            )
            fates.append(fate)
    for node in nodes:  # done after as_of: still open then
        if node.status == MilestoneStatus.DONE and node.completed_at is None:
            node.status = MilestoneStatus.TODO
    nodes = Milestone.objects.bulk_create(nodes, batch_size=2000)
    links = []
    for start in range(0, len(nodes), NODES_PER_PROJECT):
        chunk = nodes[start : start + NODES_PER_PROJECT]
        for k in range(4, NODES_PER_PROJECT):
            for upstream in {rng.randrange(max(0, k - 12), k - (k % 4) or 1) for _ in range(2)}:
                if upstream < k:
                    links.append(
                        MilestoneDependency(
                            milestone=chunk[k],
                            depends_on=chunk[upstream],
                            min_lead_days=rng.randint(0, 3) if rng.random() < 0.1 else None,
                        )
                    )
    MilestoneDependency.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)
    changes = []
    for node, fate in zip(nodes, fates, strict=True):
        if fate == "late" and node.status == MilestoneStatus.DONE:
            changes.append(
                MilestoneChange(
                    milestone=node,
                    node_id=node.pk,
                    node_title=node.title,
                    project_ref=node.project_id,
                    department_ref=node.department_id,
                    planned_due=node.due_at,
                    field="completed_at",
                    new_value=node.completed_at.isoformat(),
                    reason_code=rng.choice(REASONS),
                    created_at=node.completed_at,
                )
            )
        if node.pk % 8 == 0 and node.due_at - timedelta(days=3) <= as_of:
            promised = node.due_at + timedelta(days=2)
            changes.append(
                MilestoneChange(
                    milestone=node,
                    node_id=node.pk,
                    node_title=node.title,
                    project_ref=node.project_id,
                    department_ref=node.department_id,
                    planned_due=node.due_at,
                    field="due_at",
                    old_value=node.due_at.isoformat(),
                    new_value=promised.isoformat(),
                    reason_code="resource",
                    created_at=node.due_at - timedelta(days=3),
                )
            )
    MilestoneChange.objects.bulk_create(changes, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    from tracker.reports.periods import month_period
    from tracker.reports.population import report_population

    period = month_period(month_start)
    return report_population(start=period.start, end=period.end, as_of=as_of).count()


def main() -> None:
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from tracker.reports.analysis import monthly_analysis
    from tracker.reports.periods import month_period

    data: dict = {}
    with bench_database("analysis"):
        now = timezone.localtime()
        period = month_period(now).previous()  # the last complete month, as the page shows
        as_of = period.end + timedelta(days=2, hours=12)
        data["nodes"] = generate(period.start, as_of)
        params = {"start": period.start, "end": period.end, "as_of": as_of}
        analysis_ms: list[float] = []
        analysis_cpu_ms: list[float] = []
        floor_ms: list[float] = []
        seen: dict = {}

        def analysis_side():
            started = time.process_time()
            with timed(analysis_ms):
                seen["analysis"] = monthly_analysis(period, as_of)
            analysis_cpu_ms.append((time.process_time() - started) * 1000)

        def floor_side():
            with timed(floor_ms), connection.cursor() as cursor:
                cursor.execute(FLOOR, params)
                seen["groups"] = cursor.fetchall()

        analysis_side()  # the working calendar's years and the holiday library, once a process
        analysis_ms.clear()
        analysis_cpu_ms.clear()
        alternate(ROUNDS, analysis_side, floor_side)
        name = f"monthly analysis, {data['nodes']:,} nodes in {period.label}"
        figure(
            name,
            analysis_ms,
            unit=" ms",
            target=f"<= {BUDGET_MS}",
            detail=f"CPU {statistics.median(analysis_cpu_ms):.0f} ms;"
            f" floor {statistics.median(floor_ms):.1f} ms;"
            f" {statistics.median(analysis_ms) / statistics.median(floor_ms):.0f}x the floor",
        )
        figure(f"{name}, client CPU time", analysis_cpu_ms, unit=" ms", target=None)
        data.update(analysis_ms=analysis_ms, analysis_cpu_ms=analysis_cpu_ms, floor_ms=floor_ms)
    write_figures(data)


if __name__ == "__main__":
    main()
