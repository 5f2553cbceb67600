"""`manage.py seed_demo` on PostgreSQL: the demo story, and a second run that changes nothing."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from tracker.accounts.models import Department, Membership, User
from tracker.demo.management.commands.seed_demo import DEMO_PASSWORD
from tracker.milestones.models import (
    Milestone,
    MilestoneChange,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.projects.models import Project, ProjectStatus, ProjectTemplate, TemplateNode
from tracker.reports.periods import week_period
from tracker.reports.selectors import deviation_report

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 12, 15, 0, tzinfo=SHANGHAI)  # a Thursday; Double 11 was yesterday
USERNAMES = {
    "admin",
    "owner",
    "merch-lead",
    "supply-lead",
    "design-lead",
    "tech-lead",
    "marketing-lead",
    "cs-lead",
    "ops-lead",
    "wang.fang",
    "alex.kim",
    "zhao.lei",
}


@pytest.fixture(autouse=True)
def demo_settings(settings, shipped_templates):
    settings.TIME_ZONE = "Asia/Shanghai"


def seed(at: datetime) -> str:
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Everything the command writes, down to versions, timestamps and password hashes."""
    return {
        "departments": list(
            Department.objects.order_by("code").values_list("code", "name", "lead__username")
        ),
        "users": list(
            User.objects.order_by("username").values_list(
                "username", "email", "password", "language", "is_staff", "is_superuser"
            )
        ),
        "memberships": sorted(Membership.objects.values_list("user__username", "department__code")),
        "projects": list(
            Project.objects.order_by("name").values_list(
                "id", "name", "status", "d_day", "baselined_at", "updated_at"
            )
        ),
        "milestones": list(
            Milestone.objects.order_by("id").values_list(
                "id",
                "status",
                "due_at",
                "baseline_due_at",
                "completed_at",
                "assignee__username",
                "version",
                "updated_at",
            )
        ),
        "changes": MilestoneChange.objects.count(),
        "dependencies": MilestoneDependency.objects.count(),
    }


def logins(output: str) -> dict[str, str]:
    """The username → password rows of the printed table."""
    rows = [line.split() for line in output.splitlines() if line.startswith("  ")]
    return {row[0]: row[1] for row in rows[2:]}  # after the header and the rule


def planned_due(node: Milestone) -> datetime:
    return node.baseline_due_at or node.due_at


def test_seed_demo_loads_the_story_once(db, client, settings):
    first = seed(NOW)

    # Departments: exactly those the shipped templates use, each with a lead who is a member.
    template_codes = set(TemplateNode.objects.values_list("department_code", flat=True))
    departments = Department.objects.select_related("lead")
    assert {d.code for d in departments} == template_codes
    assert {d.code for d in departments} == {
        "merch",
        "supply",
        "design",
        "tech",
        "marketing",
        "cs",
        "ops",
    }
    assert all(d.lead and d.members.filter(pk=d.lead.pk).exists() for d in departments)

    # People: an admin, an owner, leads and members, with passwords that really log in.
    users = User.objects.all()
    assert {u.username for u in users} == USERNAMES
    assert all(u.email == f"{u.username}@example.com" for u in users)
    assert {u.language for u in users} == {"en", "zh-hans"}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert not User.objects.exclude(username="admin").filter(is_staff=True).exists()
    assert client.login(username="owner", password=DEMO_PASSWORD)
    assert client.login(username="wang.fang", password=DEMO_PASSWORD)
    assert Membership.objects.filter(user__username="alex.kim", department__code="tech").exists()

    # The campaign: from its template, D-day in ten days at midnight, baselined and active.
    campaign = Project.objects.get(kind="campaign")
    launch = Project.objects.get(kind="launch")
    assert campaign.d_day == datetime(2026, 11, 22, 0, 0, tzinfo=SHANGHAI)
    assert campaign.status == ProjectStatus.ACTIVE and campaign.baselined_at is not None
    assert campaign.owner.username == "owner"
    assert campaign.milestones.count() == campaign.template.nodes.count()
    assert launch.status == ProjectStatus.PLANNING and launch.baselined_at is None
    assert launch.milestones.count() == launch.template.nodes.count()
    assert launch.d_day > NOW + timedelta(days=60)

    # Its story: nodes done on time and late, nodes overdue, one moved after the baseline.
    nodes = {node.template_key: node for node in campaign.milestones.all()}
    done = {k for k, n in nodes.items() if n.status == MilestoneStatus.DONE}
    late = {k for k in done if nodes[k].completed_at > planned_due(nodes[k])}
    overdue = {k for k, n in nodes.items() if n.is_open and planned_due(n) < NOW}
    assert late == {"price-approval", "ad-creatives"}
    assert len(done - late) == 6
    assert overdue == {"page-build", "live-stream-schedule", "ad-ab-test", "stock-in-warehouse"}
    assert all(nodes[k].completed_at <= NOW for k in done)
    moved = nodes["page-build"]
    assert moved.due_at == moved.baseline_due_at + timedelta(days=10)
    change = moved.changes.get(field="due_at")
    assert change.reason and change.actor.username == "owner"
    assert "Demo data loaded." in first
    assert settings.SITE_URL in first
    assert logins(first) == dict.fromkeys(USERNAMES, DEMO_PASSWORD)

    # A second run, a day later, changes nothing and still prints the logins.
    before = snapshot()
    second = seed(NOW + timedelta(days=1))
    assert snapshot() == before
    assert "nothing changed" in second
    assert settings.SITE_URL in second
    assert logins(second) == dict.fromkeys(USERNAMES, DEMO_PASSWORD)


def test_a_lead_changed_in_the_app_survives_a_second_run(db):
    seed(NOW)
    Department.objects.filter(code="merch").update(lead=User.objects.get(username="wang.fang"))
    seed(NOW + timedelta(hours=1))
    assert Department.objects.get(code="merch").lead.username == "wang.fang"


def test_weekly_report_over_the_demo_has_a_population(db):
    seed(NOW)
    this_week = deviation_report(period=week_period(NOW), as_of=NOW)
    assert this_week["due_count"] > 0
    # W45: page-build (baselined 4 Nov, moved), private-domain-plan (on time),
    # live-stream-schedule and ad-ab-test (still open). The launch is still planning (no
    # baseline): its c2m-survey is left out, and the report says so.
    last_week = deviation_report(period=week_period(NOW).previous(), as_of=NOW)
    assert (last_week["period"], last_week["due_count"], last_week["deviated_count"]) == (
        "2026-W45",
        4,
        3,
    )
    assert last_week["left_out_count"] == 1
    assert last_week["breached"] is True
    assert {p["name"] for p in last_week["by_project"]} == {"Double 11 (demo)"}


def test_missing_template_is_a_clear_error_and_changes_nothing(db):
    ProjectTemplate.objects.filter(code="product-launch").delete()
    with pytest.raises(CommandError, match="product-launch is missing"):
        seed(NOW)
    assert not Department.objects.exists()
    assert not User.objects.exists()
    assert not Project.objects.exists()
