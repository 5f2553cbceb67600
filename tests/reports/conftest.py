"""Four campaigns of one template, for the monthly analysis (docs/monthly-analysis.md has the
same figures worked by hand). All times 18:00 Asia/Shanghai unless said; no war room, so slips
count Monday to Friday (November and December 2026 have no public holiday).

| campaign (D-day)       | stock-ready (supply) | banner (design) | go-live | after-sales (ops) |
| ---------------------- | -------------------- | --------------- | ------- | ----------------- |
| Double 11 2025 (11-11) | on time              | late            | on time | late              |
| Double 12 2025 (12-12) | on time              | late            | on time | on time           |
| 618 (2026-06-18)       | late                 | on time         | on time | on time           |
| Double 11 (2026-11-11) | late 7               | late 8 (7 inh.) | on time | open, 13          |

Double 11 (2026) also has page-review (design, late by two hours, no reason) and warehouse
(supply, re-planned, late 2). October 2026 has one on-time node and a snapshot of record at 25%.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.factories import BaselinedProjectFactory, DepartmentFactory, MilestoneFactory
from tracker.milestones.models import (
    Milestone,
    MilestoneChange,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.milestones.services import milestone_update
from tracker.projects.models import ProjectTemplate, TemplateNode
from tracker.reports.models import ReportSnapshot
from tracker.reports.periods import parse_month

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 12, 3, 12, tzinfo=SHANGHAI)


def at(year: int, month: int, day: int, hour: int = 18) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


@dataclass
class Campaigns:
    template: ProjectTemplate
    projects: dict
    nodes: dict  # the 2026 Double 11 nodes by key
    departments: dict
    owner: object


def _node(project, department, key, planned, done=None, **extra) -> Milestone:
    extra.setdefault("status", MilestoneStatus.DONE if done else MilestoneStatus.TODO)
    return MilestoneFactory(
        project=project,
        department=department,
        title=key.replace("-", " ").capitalize(),
        template_key=key,
        due_at=planned,
        baseline_due_at=planned,
        completed_at=done,
        **extra,
    )


@pytest.fixture
def campaigns(owner) -> Campaigns:
    return build_campaigns(owner)


def build_campaigns(owner) -> Campaigns:
    """The campaigns of the module docstring, owned by `owner`."""
    supply = DepartmentFactory(code="supply", name="Supply")
    design = DepartmentFactory(code="design", name="Design")
    ops = DepartmentFactory(code="ops", name="Operations")
    template = ProjectTemplate.objects.create(code="double-x", name="Double X", kind="campaign")
    for position, (key, title, department) in enumerate(
        [
            ("stock-ready", "Stock ready", "supply"),
            ("banner", "Banner", "design"),
            ("go-live", "Go live", "ops"),
            ("after-sales", "After-sales", "ops"),
            ("page-review", "Page review", "design"),
            ("warehouse", "Warehouse", "supply"),
        ]
    ):
        TemplateNode.objects.create(
            template=template,
            key=key,
            title=title,
            department_code=department,
            offset_days=-position,
            time_of_day="18:00",
            position=position,
        )

    def campaign(name: str, d_day: datetime, baselined: datetime):
        return BaselinedProjectFactory(
            name=name,
            owner=owner,
            template=template,
            d_day=d_day,
            baselined_at=baselined,
            war_room=False,
            status="closed" if d_day < at(2026, 11, 1) else "active",
        )

    old = campaign("Double 11 2025", at(2025, 11, 11, 0), at(2025, 10, 1))
    _node(old, supply, "stock-ready", at(2025, 11, 3), at(2025, 11, 3, 12))
    _node(old, design, "banner", at(2025, 11, 5), at(2025, 11, 7))
    _node(old, ops, "go-live", at(2025, 11, 11, 0), at(2025, 11, 11, 0))
    _node(old, ops, "after-sales", at(2025, 11, 17), at(2025, 11, 19))

    december = campaign("Double 12 2025", at(2025, 12, 12, 0), at(2025, 11, 20))
    _node(december, supply, "stock-ready", at(2025, 12, 1), at(2025, 12, 1))
    _node(december, design, "banner", at(2025, 12, 3), at(2025, 12, 4))
    _node(december, ops, "go-live", at(2025, 12, 12, 0), at(2025, 12, 12, 0))
    _node(december, ops, "after-sales", at(2025, 12, 15), at(2025, 12, 15))

    june = campaign("618", at(2026, 6, 18, 0), at(2026, 5, 1))
    _node(june, supply, "stock-ready", at(2026, 6, 1), at(2026, 6, 3))
    _node(june, design, "banner", at(2026, 6, 3), at(2026, 6, 3))
    _node(june, ops, "go-live", at(2026, 6, 18, 0), at(2026, 6, 17))
    _node(june, ops, "after-sales", at(2026, 6, 22), at(2026, 6, 22))

    october = BaselinedProjectFactory(name="Warm-up", owner=owner, war_room=False)
    MilestoneFactory(
        project=october,
        department=ops,
        due_at=at(2026, 10, 20),
        status=MilestoneStatus.DONE,
        completed_at=at(2026, 10, 20),
    )
    ReportSnapshot.objects.create(
        kind="month",
        label="2026-10",
        scope="all",
        period_start=parse_month("2026-10").start,
        period_end=parse_month("2026-10").end,
        as_of=at(2026, 11, 1, 9),
        deviation_rate=0.25,
        data={"due_count": 4, "late_count": 1, "deviated_count": 1, "deviation_rate": 0.25},
    )

    # The month analysed: Double 11 (2026), baselined on 1 October.
    main = campaign("Double 11", at(2026, 11, 11, 0), at(2026, 10, 1))
    stock = _node(main, supply, "stock-ready", at(2026, 11, 2))
    banner = _node(main, design, "banner", at(2026, 11, 4))
    MilestoneDependency.objects.create(milestone=banner, depends_on=stock)
    go_live = _node(main, ops, "go-live", at(2026, 11, 11, 0), at(2026, 11, 10, 17))
    review = _node(main, design, "page-review", at(2026, 11, 13), at(2026, 11, 13, 20))
    after_sales = _node(main, ops, "after-sales", at(2026, 11, 16))
    warehouse = _node(main, supply, "warehouse", at(2026, 11, 24))
    # Left out: a cancelled node, and a node of a project with no baseline.
    _node(main, ops, "gift-wrap", at(2026, 11, 12), status=MilestoneStatus.CANCELLED)
    MilestoneFactory(department=ops, due_at=at(2026, 11, 12), template_key="go-live")

    def update(node, when, reason, **data):
        milestone_update(milestone_id=node.pk, actor=owner, data=data, reason_code=reason, now=when)

    # A date moved while planning (before the baseline) is no promise.
    MilestoneChange.objects.create(
        milestone=go_live,
        node_id=go_live.pk,
        node_title=go_live.title,
        project_ref=main.pk,
        department_ref=ops.pk,
        field="due_at",
        old_value=at(2026, 11, 12, 0).isoformat(),
        new_value=at(2026, 11, 11, 0).isoformat(),
        created_at=at(2026, 9, 20),
    )
    update(banner, at(2026, 11, 3), "upstream_late", due_at=at(2026, 11, 12))
    done = MilestoneStatus.DONE
    update(stock, at(2026, 11, 11, 19), "supplier", status=done, completed_at=at(2026, 11, 11))
    update(after_sales, at(2026, 11, 15), "resource", due_at=at(2026, 11, 20))
    update(
        banner, at(2026, 11, 16, 19), "upstream_late", status=done, completed_at=at(2026, 11, 16)
    )
    update(warehouse, at(2026, 11, 20), "supplier", due_at=at(2026, 11, 26))
    update(after_sales, at(2026, 11, 21), "resource", due_at=at(2026, 12, 10))
    update(
        warehouse, at(2026, 11, 26, 13), "supplier", status=done, completed_at=at(2026, 11, 26, 12)
    )
    return Campaigns(
        template=template,
        projects={p.name: p for p in (old, december, june, october, main)},
        nodes={
            "stock-ready": stock,
            "banner": banner,
            "go-live": go_live,
            "page-review": review,
            "after-sales": after_sales,
            "warehouse": warehouse,
        },
        departments={"supply": supply, "design": design, "ops": ops},
        owner=owner,
    )
