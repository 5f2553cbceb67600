"""Projects over REST: creation from templates, baselines, re-anchoring and the board."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.factories import DepartmentFactory, MilestoneFactory, UserFactory
from tracker.milestones.models import Milestone, MilestoneChange, MilestoneStatus
from tracker.projects.models import Project, ProjectTemplate
from tracker.projects.services import template_schedule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_templates")]
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEMPLATE_DEPARTMENTS = ["merch", "supply", "design", "tech", "marketing", "cs", "ops"]


@pytest.fixture
def departments():
    return {
        code: DepartmentFactory(code=code, lead=UserFactory(username=f"{code}-lead"))
        for code in TEMPLATE_DEPARTMENTS
    }


@pytest.fixture
def client(api_client, owner):
    api_client.force_login(owner)
    return api_client


def create(client, **fields):
    payload = {
        "name": "Double 11",
        "kind": "campaign",
        "d_day": "2026-11-11T00:00:00+08:00",
        **fields,
    }
    return client.post("/api/v1/projects/", payload, format="json")


def test_shipped_templates_are_realistic(client):
    templates = {t["code"]: t for t in client.get("/api/v1/templates/").json()["results"]}
    campaign, launch = templates["sale-campaign"], templates["product-launch"]
    assert len(campaign["nodes"]) >= 20 and len({n["department"] for n in campaign["nodes"]}) >= 6
    assert len(launch["nodes"]) >= 15
    titles = " ".join(n["title"].lower() for n in campaign["nodes"])
    for word in [
        "forecast",
        "replenishment",
        "price",
        "load test",
        "live-stream",
        "customer-service",
    ]:
        assert word in titles


@pytest.mark.parametrize("template", ["sale-campaign", "by-id"])
def test_create_from_template_schedules_back_from_d_day(client, departments, owner, template):
    if template == "by-id":
        template = ProjectTemplate.objects.get(code="sale-campaign").pk
    response = create(client, template=template)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["owner"] == "owner" and body["status"] == "planning" and body["baselined_at"] is None
    )
    project = Project.objects.get(pk=body["id"])
    nodes = {m.template_key: m for m in project.milestones.select_related("department", "assignee")}
    assert len(nodes) == ProjectTemplate.objects.get(code="sale-campaign").nodes.count()
    # "Demand forecast" is 36 working days before the D-day at 18:00 Shanghai time.
    assert nodes["demand-forecast"].due_at == datetime(2026, 9, 16, 18, 0, tzinfo=SHANGHAI)
    assert nodes["go-live"].due_at == datetime(2026, 11, 11, 0, 0, tzinfo=SHANGHAI)
    assert nodes["demand-forecast"].department.code == "merch"
    assert nodes["demand-forecast"].assignee.username == "merch-lead"
    assert {d.template_key for d in nodes["go-no-go"].depends_on.all()} == {
        "code-freeze",
        "warehouse-capacity",
        "cs-staffing",
        "warm-up",
    }


def test_template_kind_must_match(client, departments):
    response = create(client, kind="launch", template="sale-campaign")
    assert response.status_code == 400 and "template" in response.json()
    assert not Project.objects.exists()


def test_missing_departments_are_named_and_nothing_is_created(client):
    DepartmentFactory(code="merch")
    response = create(client, template="sale-campaign")
    assert response.status_code == 400
    assert "cs, design, marketing, ops, supply, tech" in response.json()["template"][0]
    assert not Project.objects.exists() and not Milestone.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"template": "nope"}, "template"),
        ({"kind": "festival"}, "kind"),
        ({"d_day": "soon"}, "d_day"),
        ({"deviation_threshold": "1.5"}, "deviation_threshold"),
        ({"name": ""}, "name"),
    ],
)
def test_create_rejects_bad_input(client, fields, error):
    response = create(client, **fields)
    assert response.status_code == 400 and error in response.json()
    assert not Project.objects.exists()


@override_settings(DUE_SOON_HOURS=6, ESCALATE_AFTER_HOURS=30)
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("06:00:00", "1 06:00:00")),
        (
            {"due_soon_window": "02:00:00", "escalate_after": "3 00:00:00"},
            ("02:00:00", "3 00:00:00"),
        ),
    ],
    ids=["settings", "given"],
)
def test_create_sets_the_windows_from_the_settings_unless_given(
    client, departments, given, expected
):
    response = create(client, template="sale-campaign", status="active", **given)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["due_soon_window"], body["escalate_after"]) == expected
    assert body["status"] == "active" and body["baselined_at"]
    project = Project.objects.get(pk=body["id"])
    # The nodes of the active project record their creation and their baseline.
    assert set(
        MilestoneChange.objects.filter(milestone__project=project).values_list("field", flat=True)
    ) == {"created", "baseline_due_at"}


def test_baseline_copies_due_dates_once(client, departments):
    project_id = create(client, kind="launch", template="product-launch").json()["id"]
    response = client.post(f"/api/v1/projects/{project_id}/baseline/")
    assert response.status_code == 200 and response.json()["baselined_at"]
    assert not Milestone.objects.filter(
        project_id=project_id, baseline_due_at__isnull=True
    ).exists()
    again = client.post(f"/api/v1/projects/{project_id}/baseline/")
    assert again.status_code == 400 and "locked" in again.json()["non_field_errors"][0]


def test_activation_takes_the_baseline(client, departments):
    project_id = create(client, kind="launch", template="product-launch").json()["id"]
    response = client.patch(f"/api/v1/projects/{project_id}/", {"status": "active"}, format="json")
    assert response.status_code == 200 and response.json()["baselined_at"]


def test_reanchor_moves_open_nodes_keeps_baselines_and_done_nodes(client, departments):
    project_id = create(client, kind="launch", template="product-launch").json()["id"]
    client.post(f"/api/v1/projects/{project_id}/baseline/")
    done = Milestone.objects.filter(project_id=project_id).order_by("due_at").first()
    done.status, done.completed_at = MilestoneStatus.DONE, timezone.now()
    done.save()
    before = dict(Milestone.objects.filter(project_id=project_id).values_list("pk", "due_at"))
    response = client.patch(
        f"/api/v1/projects/{project_id}/", {"d_day": "2026-11-14T00:00:00+08:00"}, format="json"
    )
    assert response.status_code == 400 and "reason_code" in response.json()
    response = client.patch(
        f"/api/v1/projects/{project_id}/",
        {
            "d_day": "2026-11-14T00:00:00+08:00",
            "change_reason": "Platform moved the date",
            "reason_code": "platform_change",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    # Open nodes keep their distance in working days to the new D-day, a Saturday.
    schedule = {
        n.key: n.due_at
        for n in template_schedule(
            template=ProjectTemplate.objects.get(code="product-launch"),
            d_day=datetime(2026, 11, 14, tzinfo=SHANGHAI),
        )
    }
    for node in Milestone.objects.filter(project_id=project_id):
        expected = before[node.pk] if node.pk == done.pk else schedule[node.template_key]
        assert node.due_at == expected
        assert node.baseline_due_at == before[node.pk]
    changes = MilestoneChange.objects.filter(milestone__project_id=project_id, field="due_at")
    assert changes.count() == len(before) - 1
    assert all("Platform moved the date" in c.reason for c in changes)


def test_board_groups_by_department_and_status(client, project, department):
    MilestoneFactory(project=project, department=department, status=MilestoneStatus.DONE)
    MilestoneFactory(project=project, department=department)
    body = client.get(f"/api/v1/projects/{project.pk}/board/").json()
    lane = next(lane for lane in body["lanes"] if lane["department"]["code"] == "merch")
    assert body["statuses"] == ["todo", "in_progress", "blocked", "done", "cancelled"]
    assert len(lane["columns"]["done"]) == 1 and len(lane["columns"]["todo"]) == 1


def test_unknown_project_is_404(client):
    assert client.get("/api/v1/projects/999999/").status_code == 404
    assert client.get("/api/v1/projects/999999/board/").status_code == 404
    assert client.post("/api/v1/projects/999999/baseline/").status_code == 404


def test_staff_edit_templates_and_bad_templates_are_400(api_client, departments):
    api_client.force_login(UserFactory(is_staff=True))
    node = {"key": "a", "title": "A", "department": "merch", "offset_days": -3, "time": "18:00"}
    cyclic = [
        {**node, "depends_on": ["b"]},
        {**node, "key": "b", "depends_on": ["a"]},
    ]
    response = api_client.post(
        "/api/v1/templates/",
        {"code": "tiny", "name": "Tiny", "kind": "launch", "nodes": cyclic},
        format="json",
    )
    assert response.status_code == 400 and "cycle" in response.json()["nodes"][0]
    response = api_client.post(
        "/api/v1/templates/",
        {"code": "tiny", "name": "Tiny", "kind": "launch", "nodes": [node]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["nodes"][0]["time"] == "18:00"


LADDER = {
    "escalate_after": "04:00:00",
    "escalate_owner_after": "12:00:00",
    "escalate_contact_after": "20:00:00",
    "nudge_every": "03:00:00",
}


def test_the_escalation_ladder_is_read_created_and_patched_audited(client):
    from tracker.accounts.models import AuditEntry

    contact = UserFactory(username="duty")
    response = create(client, **LADDER, escalation_contact="duty")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in LADDER} == LADDER
    assert body["escalation_contact"] == "duty"

    response = client.patch(
        f"/api/v1/projects/{body['id']}/",
        {"escalate_owner_after": "1 00:00:00", "nudge_every": None, "escalation_contact": None},
        format="json",
    )
    assert response.status_code == 200, response.json()
    patched = response.json()
    assert (patched["escalate_owner_after"], patched["nudge_every"]) == ("1 00:00:00", None)
    assert patched["escalation_contact"] is None
    project = Project.objects.get(pk=body["id"])
    assert project.escalation_contact is None and contact.is_active
    audit = {
        field: (old, new)
        for field, old, new in AuditEntry.objects.filter(project_ref=project.pk).values_list(
            "field", "old_value", "new_value"
        )
    }
    assert audit["escalate_owner_after"] == ("12:00:00", "1 day, 0:00:00")
    assert audit["nudge_every"] == ("3:00:00", "")
    assert audit["escalation_contact"] == ("duty", "")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("escalate_after", "00:00:00"),
        ("escalate_owner_after", "-01:00:00"),
        ("escalate_contact_after", "00:00:00"),
        ("nudge_every", "00:00:00"),
        ("escalation_contact", "nobody"),
    ],
)
def test_a_bad_ladder_value_is_a_400_and_changes_nothing(client, field, value):
    body = create(client, **LADDER).json()
    response = client.patch(f"/api/v1/projects/{body['id']}/", {field: value}, format="json")
    assert response.status_code == 400 and field in response.json()
    after = client.get(f"/api/v1/projects/{body['id']}/").json()
    assert {key: after[key] for key in LADDER} == LADDER
    created = create(client, **{**LADDER, field: value})
    assert created.status_code == 400 and field in created.json()
    assert Project.objects.count() == 1
