"""The deviation rate of record: every route that could lower a closed week's figure after the
fact is either refused (right status, nothing written) or recorded with a reason and listed as a
restatement next to the unchanged figure of record.

The world is the issue's reproduction: a Double 11 project made from the shipped sale-campaign
template (D-day Wednesday 11 November 2026, Asia/Shanghai), activated (so baselined) on
1 October. ISO week 2026-W46 (9-15 November) holds five of its nodes: code freeze, warm-up,
go/no-go, go-live and the fulfilment SLA. Three are done on time and two are still open, so
the week's rate is 2/5 = 40%. The weekly job snapshots the project's week on Monday 16 November
09:00; the routes are tried on Wednesday 18 November.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.accounts.models import AuditEntry
from tracker.accounts.services import department_save, user_save
from tracker.integrations.spreadsheets.exporting import report_table
from tracker.milestones.models import Milestone, MilestoneChange, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.models import Project, ProjectStatus, ProjectTemplate
from tracker.projects.services import project_create
from tracker.reports.models import ReportSnapshot
from tracker.reports.periods import parse_week
from tracker.reports.selectors import report_of_record
from tracker.reports.services import report_snapshot_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_templates")]
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = parse_week("2026-W46")
CREATED = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)
SNAPSHOT = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI)
DEPARTMENTS = ["merch", "supply", "design", "tech", "marketing", "cs", "ops"]


@dataclass
class World:
    project: Project
    planning: Project  # never baselined: its nodes are left out of the reports
    owner: object
    leads: dict
    nodes: dict  # template key → node
    other: Milestone  # the planning project's node due in the week


@pytest.fixture(autouse=True)
def shanghai(settings):
    settings.TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def world(db) -> World:
    owner = UserFactory(username="olga")
    leads = {
        code: DepartmentFactory(code=code, lead=UserFactory(username=f"{code}-lead")).lead
        for code in DEPARTMENTS
    }
    template = ProjectTemplate.objects.get(code="sale-campaign")
    with time_machine.travel(CREATED, tick=False):
        project = project_create(
            actor=owner,
            name="Double 11",
            kind="campaign",
            d_day=datetime(2026, 11, 11, tzinfo=SHANGHAI),
            owner=owner,
            template=template,
            status=ProjectStatus.ACTIVE,
        )
        planning = ProjectFactory(owner=owner, name="12.12 (planning)")
        other = MilestoneFactory(
            project=planning,
            department=project.milestones.first().department,
            due_at=datetime(2026, 11, 12, 18, 0, tzinfo=SHANGHAI),
        )
    nodes = {node.template_key: node for node in project.milestones.all()}
    for key in ("code-freeze", "go-no-go", "go-live"):  # done on time, by their assignees
        node = nodes[key]
        with time_machine.travel(node.due_at - timedelta(hours=1), tick=False):
            milestone_update(
                milestone_id=node.pk, actor=node.assignee, data={"status": MilestoneStatus.DONE}
            )
    with time_machine.travel(SNAPSHOT, tick=False):
        report_snapshot_save(period=WEEK, as_of=SNAPSHOT, project=project)
    for node in nodes.values():
        node.refresh_from_db()
    return World(project, planning, owner, leads, nodes, other)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def node_url(node) -> str:
    return f"/api/v1/milestones/{node.pk}/"


def if_match(node) -> dict:
    node.refresh_from_db(fields=["version"])
    return {"HTTP_IF_MATCH": f'"{node.version}"'}


def state(world: World) -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        sorted(
            Milestone.objects.values_list(
                "pk", "due_at", "baseline_due_at", "status", "completed_at", "version"
            )
        ),
        MilestoneChange.objects.count(),
        AuditEntry.objects.count(),
        Project.objects.filter(pk=world.project.pk)
        .values_list("deviation_threshold", "baseline_number")
        .get(),
        ReportSnapshot.objects.count(),
    )


def report(world: World) -> dict:
    return report_of_record(period=WEEK, as_of=NOW, project_id=world.project.pk)


# Each route: who tries it, the attempt without a reason (refused: the status and the field
# named), and, where a recorded way exists, the same with a reason (its status, and the
# restatement it must show). `live` is the week's live rate afterwards.
@dataclass(frozen=True)
class Route:
    id: str
    refused_status: int
    refused_field: str | None
    accepted_status: int | None = None
    restated_field: str | None = None
    live_rate: float | None = 0.4
    live_due: int = 5


def cancel(world, reason):
    node = world.nodes["warm-up"]
    body = {"status": "cancelled", **reason}
    return client_for(world.leads["ops"]).patch(
        node_url(node), body, format="json", **if_match(node)
    )


def back_date(world, reason):
    node = world.nodes["fulfilment-sla"]  # its assignee claims it was done before its due
    claimed = node.baseline_due_at - timedelta(hours=2)
    body = {"status": "done", "completed_at": claimed.isoformat(), **reason}
    return client_for(node.assignee).patch(node_url(node), body, format="json", **if_match(node))


def delete(world, reason):
    node = world.nodes["warm-up"]
    return client_for(world.leads["ops"]).delete(node_url(node), **if_match(node))


def unbaselined_move(world, reason):
    """A planning project's node moved out of the week: no reason needed, nothing counted."""
    node = world.other
    body = {"due_at": (node.due_at + timedelta(days=14)).isoformat(), **reason}
    return client_for(world.owner).patch(node_url(node), body, format="json", **if_match(node))


def delete_and_recreate(world, reason):
    node = world.nodes["warm-up"]
    client = client_for(world.leads["ops"])
    response = client.delete(node_url(node), **if_match(node))
    if response.status_code != 204 and not reason:
        return response
    # The delete is refused; re-creating a node in the closed week is an addition after the
    # baseline, recorded and listed.
    return client.post(
        "/api/v1/milestones/",
        {
            "project": world.project.pk,
            "title": node.title,
            "department": "ops",
            "due_at": (node.due_at + timedelta(days=3)).isoformat(),
            **reason,
        },
        format="json",
    )


def threshold(world, reason):
    """The lead may not move the bar; the owner may, and it is recorded."""
    body = {"deviation_threshold": "1.0000", **reason}
    who = world.owner if reason else world.leads["ops"]
    return client_for(who).patch(f"/api/v1/projects/{world.project.pk}/", body, format="json")


def rebaseline(world, reason):
    return client_for(world.owner).post(
        f"/api/v1/projects/{world.project.pk}/rebaseline/", reason, format="json"
    )


ROUTES = [
    (cancel, Route("cancel", 400, "reason_code", 200, "status", live_rate=0.25, live_due=4)),
    (back_date, Route("back-date", 400, "reason_code", 200, "completed_at", live_rate=0.2)),
    (delete, Route("delete", 409, None)),
    (unbaselined_move, Route("unbaselined-move", 200, None)),
    (
        delete_and_recreate,
        Route(
            "delete-and-recreate", 409, None, 201, "created", live_rate=round(3 / 6, 4), live_due=6
        ),
    ),
    (threshold, Route("threshold-change", 403, None, 200, "deviation_threshold")),
    (rebaseline, Route("rebaseline", 400, "reason_code", 201, "rebaseline")),
]
REASON = {"reason_code": "platform_change", "change_reason": "The platform moved the date"}


@pytest.mark.parametrize(("attempt", "route"), ROUTES, ids=[r.id for _a, r in ROUTES])
def test_every_route_is_refused_or_recorded_as_a_restatement(world, attempt, route):
    with time_machine.travel(NOW, tick=False):
        before = report(world)
        assert before["of_record"] and before["deviation_rate"] == 0.4
        assert (before["due_count"], before["deviated_count"]) == (5, 2)
        assert before["restatements"] == [] and not before["restated"]

        unchanged = state(world)
        response = attempt(world, {})
        assert response.status_code == route.refused_status, response.content
        if route.refused_status >= 400:
            assert state(world) == unchanged
            if route.refused_field:
                assert route.refused_field in response.json()
            else:
                assert response.json()["detail"]
        if route.id == "unbaselined-move":
            # Allowed, and recorded in the node's history, but the planning project's node is
            # not part of any rate: the closed week's figures do not move and nothing restates.
            assert MilestoneChange.objects.filter(node_id=world.other.pk, field="due_at").exists()
            after = report(world)
            assert after["live"]["deviation_rate"] == 0.4 and after["restatements"] == []
            assert report_of_record(period=WEEK, as_of=NOW)["left_out_count"] == 0  # moved out

        if route.accepted_status is None:
            return
        response = attempt(world, REASON)
        assert response.status_code == route.accepted_status, response.content
        after = report(world)

    # The figure of record stays what was sent; the live recomputation and the changes show.
    assert after["of_record"] and after["snapshot_at"] == SNAPSHOT
    assert after["deviation_rate"] == 0.4 and after["due_count"] == 5
    assert after["live"]["deviation_rate"] == route.live_rate
    assert after["live"]["due_count"] == route.live_due
    assert after["restated"] is (route.live_rate != 0.4 or route.live_due != 5)
    restated = [row for row in after["restatements"] if row["field"] == route.restated_field]
    assert restated, after["restatements"]
    row = restated[0]
    assert row["at"] == NOW and row["actor"]
    assert (row["reason_code"], row["reason"]) == (REASON["reason_code"], REASON["change_reason"])
    assert row["reason_name"] == "Platform rule or date change"
    # The CSV/XLSX export lists the same restatements as the page and the API.
    with time_machine.travel(NOW, tick=False):
        headers, rows = report_table(
            kind=WEEK.kind, label=WEEK.label, table="restatements", project_id=world.project.pk
        )
    exported = [dict(zip(headers, r, strict=True)) for r in rows]
    assert [e["field"] for e in exported] == [r["field"] for r in after["restatements"]]
    assert {e["reason_code"] for e in exported if e["field"] == route.restated_field} == {
        REASON["reason_code"]
    }


def test_back_dating_keeps_the_claimed_time_and_the_moment_it_was_entered(world):
    node = world.nodes["fulfilment-sla"]
    with time_machine.travel(NOW, tick=False):
        back_date(world, REASON)
    change = MilestoneChange.objects.get(node_id=node.pk, field="completed_at")
    claimed = node.baseline_due_at - timedelta(hours=2)
    assert datetime.fromisoformat(change.new_value) == claimed  # the time claimed
    assert change.created_at == NOW  # the moment it was entered
    assert change.reason_code == "platform_change"


def test_a_late_completion_needs_a_reason_and_an_on_time_one_does_not(world):
    late = world.nodes["warm-up"]
    client = client_for(late.assignee)
    with time_machine.travel(NOW, tick=False):
        response = client.patch(node_url(late), {"status": "done"}, format="json", **if_match(late))
        assert response.status_code == 400 and "reason_code" in response.json()
        response = client.patch(
            node_url(late),
            {"status": "done", "reason_code": "supplier"},
            format="json",
            **if_match(late),
        )
        assert response.status_code == 200
    early = world.nodes["post-campaign-review"]  # due 20 November
    with time_machine.travel(NOW, tick=False):
        response = client_for(early.assignee).patch(
            node_url(early), {"status": "done"}, format="json", **if_match(early)
        )
    assert response.status_code == 200


def test_other_needs_a_text_and_unknown_codes_are_refused(world):
    node = world.nodes["warm-up"]
    client = client_for(world.owner)
    moved = (node.due_at + timedelta(days=1)).isoformat()
    with time_machine.travel(NOW, tick=False):
        unchanged = state(world)
        response = client.patch(
            node_url(node),
            {"due_at": moved, "reason_code": "other"},
            format="json",
            **if_match(node),
        )
        assert response.status_code == 400 and "change_reason" in response.json()
        response = client.patch(
            node_url(node),
            {"due_at": moved, "reason_code": "bad-luck"},
            format="json",
            **if_match(node),
        )
        assert response.status_code == 400 and "reason_code" in response.json()
        assert state(world) == unchanged


def test_a_d_day_reanchor_of_a_baselined_project_needs_a_reason_code(world):
    url = f"/api/v1/projects/{world.project.pk}/"
    client = client_for(world.owner)
    new_d_day = "2026-11-12T00:00:00+08:00"
    with time_machine.travel(NOW, tick=False):
        unchanged = state(world)
        response = client.patch(url, {"d_day": new_d_day, "change_reason": "later"}, format="json")
        assert response.status_code == 400 and "reason_code" in response.json()
        assert state(world) == unchanged
        response = client.patch(url, {"d_day": new_d_day, **REASON}, format="json")
        assert response.status_code == 200
    entry = AuditEntry.objects.get(project_ref=world.project.pk, field="d_day")
    assert entry.reason_code == "platform_change" and entry.actor == world.owner
    moves = MilestoneChange.objects.filter(project_ref=world.project.pk, field="due_at")
    assert moves.exists() and set(moves.values_list("reason_code", flat=True)) == {
        "platform_change"
    }


def test_a_baselined_project_is_archived_not_deleted(world):
    client = client_for(world.owner)
    unchanged = state(world)
    response = client.delete(f"/api/v1/projects/{world.project.pk}/")
    assert response.status_code == 409 and "archive" in response.json()["detail"]
    assert state(world) == unchanged


def test_a_never_baselined_projects_deletion_keeps_history_and_an_audit_entry(world):
    node = world.other
    title = node.title
    milestone_update(milestone_id=node.pk, actor=world.owner, data={"title": "Renamed"})
    response = client_for(world.owner).delete(f"/api/v1/projects/{world.planning.pk}/")
    assert response.status_code == 204
    history = MilestoneChange.objects.filter(node_id=node.pk)
    assert history.count() == 1 and history.get().milestone_id is None
    assert (history.get().node_title, history.get().new_value) == (title, "Renamed")
    assert history.get().project_ref == world.planning.pk
    assert AuditEntry.objects.filter(project_ref=world.planning.pk, field="deleted").exists()


def test_rebaseline_keeps_every_baseline_and_closed_weeks_keep_theirs(world):
    client = client_for(world.owner)
    go_live = world.nodes["go-live"]
    with time_machine.travel(NOW, tick=False):
        # Move the open warm-up node out of the week (with a reason), then re-baseline: the
        # new plan would put warm-up in W48, but W46 stays measured by baseline 1.
        node = world.nodes["warm-up"]
        client.patch(
            node_url(node),
            {"due_at": (node.due_at + timedelta(days=14)).isoformat(), **REASON},
            format="json",
        )
        response = client.post(
            f"/api/v1/projects/{world.project.pk}/rebaseline/", REASON, format="json"
        )
        assert response.status_code == 201 and response.json()["number"] == 2
        live = report(world)["live"]
    assert (live["due_count"], live["deviation_rate"]) == (5, 0.4)
    baselines = client.get(f"/api/v1/projects/{world.project.pk}/baselines/").json()
    assert [(b["number"], b["in_force"], b["reason_code"]) for b in baselines] == [
        (1, False, ""),
        (2, True, "platform_change"),
    ]
    node.refresh_from_db()
    go_live.refresh_from_db()
    assert node.baseline_due_at == node.due_at  # today's plan is baseline 2
    assert go_live.baseline_entries.count() == 2
    # A staff member cannot be impersonated: a lead may not re-baseline.
    response = client_for(world.leads["ops"]).post(
        f"/api/v1/projects/{world.project.pk}/rebaseline/", REASON, format="json"
    )
    assert response.status_code == 403


def test_project_history_lists_the_audit_log(world):
    with time_machine.travel(NOW, tick=False):
        threshold(world, REASON)
    body = client_for(world.leads["ops"]).get(f"/api/v1/projects/{world.project.pk}/history/")
    fields = [(row["field"], row["old_value"], row["new_value"]) for row in body.json()["results"]]
    assert ("deviation_threshold", "0.1000", "1.0000") in fields
    assert ("baseline", "", "1") in fields


def test_a_node_added_after_the_baseline_takes_its_first_due_as_baseline(world):
    due = NOW + timedelta(days=2)
    with time_machine.travel(NOW, tick=False):
        response = client_for(world.owner).post(
            "/api/v1/milestones/",
            {"project": world.project.pk, "title": "Extra", "department": "ops", "due_at": due},
            format="json",
        )
    body = response.json()
    assert response.status_code == 201 and body["added_after_baseline"] is True
    assert body["baseline_due_at"] == body["due_at"]


def test_retaking_a_snapshot_is_staffs_with_a_reason_and_keeps_the_earlier_one(world):
    staff = UserFactory(username="root", is_staff=True)
    with time_machine.travel(NOW, tick=False):
        cancel(world, REASON)
        with pytest.raises(Exception, match="Only staff"):
            report_snapshot_save(
                period=WEEK, as_of=NOW, project=world.project, actor=world.owner, retake_reason="x"
            )
        again = report_snapshot_save(period=WEEK, as_of=NOW, project=world.project)
        assert again.as_of == SNAPSHOT  # the scheduled rerun keeps the figure of record
        retaken = report_snapshot_save(
            period=WEEK,
            as_of=NOW,
            project=world.project,
            actor=staff,
            retake_reason="Cancelled node confirmed out of scope",
        )
        after = report(world)
    assert ReportSnapshot.objects.filter(scope=f"project:{world.project.pk}").count() == 2
    assert ReportSnapshot.objects.get(pk=again.pk).superseded_at == NOW
    assert retaken.deviation_rate == 0.25 and retaken.taken_by == staff
    assert after["deviation_rate"] == 0.25 and after["snapshot_at"] == NOW


def test_deviation_reasons_are_listed_in_the_readers_language(world):
    client = client_for(world.owner)
    body = client.get("/api/v1/deviation-reasons/").json()
    codes = [row["code"] for row in body]
    assert codes[:2] == ["upstream_late", "supplier"] and "other" in codes
    assert next(row for row in body if row["code"] == "other")["requires_text"] is True
    world.owner.language = "zh-hans"
    world.owner.save(update_fields=["language"])
    body = client_for(world.owner).get("/api/v1/deviation-reasons/").json()
    assert next(row for row in body if row["code"] == "supplier")["name"] == "供应商或库存延误"


def test_threshold_is_the_owners_and_staffs(world):
    response = client_for(world.leads["ops"]).patch(
        f"/api/v1/projects/{world.project.pk}/", {"deviation_threshold": "0.5"}, format="json"
    )
    assert response.status_code == 403
    world.project.refresh_from_db()
    assert world.project.deviation_threshold == Decimal("0.1")


def test_role_changes_are_audited(world):
    staff = UserFactory(username="root", is_staff=True)
    person = world.leads["ops"]
    user_save(actor=staff, user=person, is_staff=True, department_codes=["ops"])
    user_save(actor=staff, user=person, is_active=False)
    department_save(actor=staff, department=person.led_departments.get(), lead=world.leads["cs"])
    rows = list(
        AuditEntry.objects.filter(project_ref__isnull=True)
        .order_by("id")
        .values_list("actor__username", "field", "old_value", "new_value")
    )
    assert rows == [
        ("root", "is_staff", "False", "True"),
        ("root", "departments", "", "ops"),
        ("root", "is_active", "True", "False"),
        ("root", "lead", "ops-lead", "cs-lead"),
    ]


def test_a_re_plan_of_a_baselined_node_moves_no_figure_and_restates_nothing(world):
    """A closed week's node moved later (with a reason) is still measured against its
    baseline: the figure stands, and the move is history, not a restatement."""
    node = world.nodes["fulfilment-sla"]
    with time_machine.travel(NOW, tick=False):
        moved = client_for(world.owner).patch(
            node_url(node),
            {"due_at": (node.due_at + timedelta(days=14)).isoformat(), **REASON},
            format="json",
            **if_match(node),
        )
        after = report(world)
    assert moved.status_code == 200, moved.content
    assert after["live"]["deviation_rate"] == after["deviation_rate"] == 0.4
    assert after["restatements"] == [] and not after["restated"]
    assert MilestoneChange.objects.filter(node_id=node.pk, field="due_at").exists()
