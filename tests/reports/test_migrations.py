"""Upgrading to the rate of record keeps every project, node, history row and snapshot: migrate
forwards on a database that holds them, as an upgrade would. The history rows then name their
node (so they outlive it), the baselined project has its first baseline recorded, and the
existing snapshot of a closed week is that week's figure of record."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tracker.milestones.models import DeviationReason, MilestoneChange
from tracker.projects.models import Project, ProjectBaseline
from tracker.reports.periods import parse_week
from tracker.reports.selectors import report_of_record

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE = [
    ("accounts", "0003_user_collapsed_lanes"),
    ("milestones", "0003_lane_position_unique"),
    ("projects", "0005_shipped_templates_in_working_days"),
    ("reports", "0001_initial"),
]
WEEK = parse_week("2026-W46")


@pytest.fixture
def executor(transactional_db):
    executor = MigrationExecutor(connection)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the other tests expect


def test_upgrading_keeps_projects_history_and_snapshots_as_figures_of_record(executor):
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    old = executor.loader.project_state(BEFORE).apps
    owner = old.get_model("accounts", "User").objects.create(username="olga")
    department = old.get_model("accounts", "Department").objects.create(code="ops", name="Ops")
    baselined_at = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)
    due = datetime(2026, 11, 10, 18, 0, tzinfo=SHANGHAI)
    project = old.get_model("projects", "Project").objects.create(
        name="Double 11",
        kind="campaign",
        d_day=datetime(2026, 11, 11, tzinfo=SHANGHAI),
        owner=owner,
        status="active",
        baselined_at=baselined_at,
    )
    node = old.get_model("milestones", "Milestone").objects.create(
        project=project, title="Go/no-go", department=department, due_at=due, baseline_due_at=due
    )
    old.get_model("milestones", "MilestoneChange").objects.create(
        milestone=node, field="baseline_due_at", new_value=due.isoformat(), created_at=baselined_at
    )
    old.get_model("reports", "ReportSnapshot").objects.create(
        kind="week",
        label=WEEK.label,
        scope=f"project:{project.pk}",
        project=project,
        period_start=WEEK.start,
        period_end=WEEK.end,
        as_of=datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI),
        deviation_rate=1.0,
        breached=True,
        data={"period": WEEK.label, "due_count": 1, "deviation_rate": 1.0, "deviated_count": 1},
    )

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    upgraded = Project.objects.get(pk=project.pk)
    assert upgraded.baseline_number == 1
    first = ProjectBaseline.objects.get(project=upgraded)
    assert (first.number, first.taken_at, first.node_count) == (1, baselined_at, 1)
    change = MilestoneChange.objects.get()
    assert (change.milestone_id, change.node_id, change.node_title) == (
        node.pk,
        node.pk,
        "Go/no-go",
    )
    assert (change.project_ref, change.department_ref, change.planned_due) == (
        project.pk,
        department.pk,
        due,
    )
    assert DeviationReason.objects.filter(code="other", requires_text=True).exists()
    assert DeviationReason.objects.count() == 9
    # The week now shows its snapshot as the figure of record, beside today's recomputation.
    report = report_of_record(
        period=WEEK, as_of=datetime(2026, 11, 18, tzinfo=SHANGHAI), project_id=project.pk
    )
    assert report["of_record"] and report["deviation_rate"] == 1.0
    assert report["live"]["due_count"] == 1 and report["restatements"] == []
