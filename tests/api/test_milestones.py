"""Milestones over REST: the completion rules, baselines, dependencies, ETags, filters, history."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.core.sqltemplate import SqlTemplate
from tracker.milestones.api.serializers import _page_links
from tracker.milestones.forecast import project_forecast_refresh
from tracker.milestones.models import (
    Milestone,
    MilestoneChange,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.projects.services import project_baseline

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(etag_client, owner):
    # Reads a node before it writes it (If-Match); tests of the precondition name theirs.
    etag_client.force_login(owner)
    return etag_client


@pytest.fixture
def node(project, department):
    return MilestoneFactory(project=project, department=department, title="Price approval")


def url(milestone=None, suffix=""):
    return f"/api/v1/milestones/{milestone.pk}/{suffix}" if milestone else "/api/v1/milestones/"


def test_create_returns_node_with_etag(client, project, department):
    due = timezone.now() + timedelta(days=3)
    response = client.post(
        url(),
        {"project": project.pk, "title": "Stock", "department": "merch", "due_at": due.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["department"] == "merch" and body["status"] == "todo" and body["version"] == 1
    assert body["baseline_due_at"] is None and body["depends_on"] == []
    assert response["ETag"] == '"1"'
    assert MilestoneChange.objects.filter(milestone_id=body["id"], field="created").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"department": "nope"}, "department"),
        ({"assignee": "ghost"}, "assignee"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"status": "finished"}, "status"),
        ({"project": 999999}, "project"),
    ],
)
def test_create_rejects_bad_fields(client, project, department, payload, field):
    data = {
        "project": project.pk,
        "title": "X",
        "department": "merch",
        "due_at": "2026-12-01T10:00:00+08:00",
    }
    response = client.post(url(), {**data, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Milestone.objects.exists()


def test_node_added_after_baseline_gets_its_baseline(client, project, department):
    project_baseline(project=project, actor=None)
    response = client.post(
        url(),
        {
            "project": project.pk,
            "title": "Late add",
            "department": "merch",
            "due_at": "2026-12-01T10:00:00+08:00",
        },
        format="json",
    )
    assert response.json()["baseline_due_at"] == "2026-12-01T10:00:00+08:00"


class TestCompletion:
    def test_done_sets_completed_at_to_now(self, client, node):
        before = timezone.now()
        body = client.patch(url(node), {"status": "done"}, format="json").json()
        assert before <= timezone.datetime.fromisoformat(body["completed_at"]) <= timezone.now()

    def test_done_with_a_past_completion_keeps_it(self, client, node):
        past = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
        body = client.patch(
            url(node), {"status": "done", "completed_at": past.isoformat()}, format="json"
        ).json()
        assert timezone.datetime.fromisoformat(body["completed_at"]) == past

    def test_completion_in_the_future_is_refused(self, client, node):
        future = timezone.now() + timedelta(hours=1)
        response = client.patch(
            url(node), {"status": "done", "completed_at": future.isoformat()}, format="json"
        )
        assert response.status_code == 400
        assert "future" in response.json()["completed_at"][0]
        node.refresh_from_db()
        assert node.status == "todo" and node.version == 1

    def test_leaving_done_clears_completion(self, client, node):
        client.patch(url(node), {"status": "done"}, format="json")
        body = client.patch(url(node), {"status": "in_progress"}, format="json").json()
        assert body["completed_at"] is None and body["status"] == "in_progress"

    def test_completion_on_an_open_node_is_refused(self, client, node):
        response = client.patch(
            url(node), {"completed_at": timezone.now().isoformat()}, format="json"
        )
        assert response.status_code == 400 and "completed_at" in response.json()


class TestBaseline:
    def test_moving_a_baselined_due_needs_a_reason(self, client, node, project):
        project_baseline(project=project, actor=None)
        new_due = (node.due_at + timedelta(days=2)).isoformat()
        response = client.patch(url(node), {"due_at": new_due}, format="json")
        assert response.status_code == 400
        assert "reason_code" in response.json()
        response = client.patch(
            url(node),
            {"due_at": new_due, "change_reason": "Supplier late", "reason_code": "supplier"},
            format="json",
        )
        assert response.status_code == 200
        body = response.json()
        assert body["baseline_due_at"] != body["due_at"]
        change = MilestoneChange.objects.get(milestone=node, field="due_at")
        assert change.reason == "Supplier late" and change.actor.username == "owner"

    def test_before_baseline_due_moves_freely(self, client, node):
        new_due = (node.due_at + timedelta(days=2)).isoformat()
        assert client.patch(url(node), {"due_at": new_due}, format="json").status_code == 200

    def test_baseline_due_is_read_only(self, client, node):
        client.patch(url(node), {"baseline_due_at": "2020-01-01T00:00:00Z"}, format="json")
        node.refresh_from_db()
        assert node.baseline_due_at is None


class TestETag:
    def test_get_has_etag_from_version(self, client, node):
        response = client.get(url(node))
        assert response["ETag"] == '"1"'

    def test_matching_if_match_updates(self, client, node):
        response = client.patch(url(node), {"title": "New"}, format="json", HTTP_IF_MATCH='"1"')
        assert response.status_code == 200 and response["ETag"] == '"2"'

    @pytest.mark.parametrize("header", ['"0"', '"7"', "garbage", 'W/"3"'])
    def test_stale_if_match_is_412_and_changes_nothing(self, client, node, header):
        response = client.patch(
            url(node), {"title": "Overwrite"}, format="json", HTTP_IF_MATCH=header
        )
        assert response.status_code == 412
        assert response.json()["current_version"] == 1
        node.refresh_from_db()
        assert node.title == "Price approval" and node.version == 1

    def test_put_with_stale_etag_is_412(self, client, node, project):
        client.patch(url(node), {"title": "Changed"}, format="json")
        payload = {
            "project": project.pk,
            "title": "Full replace",
            "department": "merch",
            "due_at": node.due_at.isoformat(),
        }
        assert client.put(url(node), payload, format="json", HTTP_IF_MATCH='"1"').status_code == 412
        assert client.put(url(node), payload, format="json", HTTP_IF_MATCH='"2"').status_code == 200

    def test_no_op_patch_keeps_the_version(self, client, node):
        body = client.patch(url(node), {"title": "Price approval"}, format="json").json()
        assert body["version"] == 1


class TestDependencies:
    def test_cycle_is_refused_and_named(self, client, project, department):
        a, b, c = (MilestoneFactory(project=project, department=department, title=t) for t in "ABC")
        assert client.patch(url(b), {"depends_on": [a.pk]}, format="json").status_code == 200
        assert client.patch(url(c), {"depends_on": [b.pk]}, format="json").status_code == 200
        response = client.patch(url(a), {"depends_on": [c.pk]}, format="json")
        assert response.status_code == 400
        message = response.json()["depends_on"][0]
        assert "cycle" in message
        assert f"#{a.pk} A" in message and f"#{c.pk} C" in message and f"#{b.pk} B" in message
        assert list(a.depends_on.all()) == []

    def test_self_dependency_is_refused(self, client, node):
        response = client.patch(url(node), {"depends_on": [node.pk]}, format="json")
        assert response.status_code == 400

    def test_dependency_must_stay_in_the_project(self, client, node, department):
        other = MilestoneFactory(project=ProjectFactory(), department=department)
        response = client.patch(url(node), {"depends_on": [other.pk]}, format="json")
        assert response.status_code == 400
        assert "another project" in response.json()["depends_on"][0]

    def test_dependencies_replace_and_are_listed(self, client, project, department, node):
        a, b = MilestoneFactory.create_batch(2, project=project, department=department)
        client.patch(url(node), {"depends_on": [a.pk, b.pk]}, format="json")
        body = client.patch(url(node), {"depends_on": [b.pk]}, format="json").json()
        assert body["depends_on"] == [b.pk]


def test_overdue_and_at_risk_flags(client, project, department):
    """At risk: open and forecast later than due (docs/forecast.md). Three days late pushes the
    forecasts of the two nodes after it past their due dates; an overdue node is at risk too."""
    late = MilestoneFactory(
        project=project, department=department, due_at=timezone.now() - timedelta(days=3)
    )
    downstream = MilestoneFactory(project=project, department=department)
    further = MilestoneFactory(project=project, department=department)
    client.patch(url(downstream), {"depends_on": [late.pk]}, format="json")
    client.patch(url(further), {"depends_on": [downstream.pk]}, format="json")
    project_forecast_refresh(project=project)  # what the scan keeps
    rows = {row["id"]: row for row in client.get(url(), {"project": project.pk}).json()["results"]}
    assert rows[late.pk]["is_overdue"] and rows[late.pk]["is_at_risk"]
    assert rows[downstream.pk]["is_at_risk"] and not rows[downstream.pk]["is_overdue"]
    assert rows[further.pk]["is_at_risk"]


def test_each_list_row_is_the_nodes_detail(client, project, department):
    """The list's lean rows carry the very fields and values of the detail's serializer."""
    now = timezone.now()
    mei = UserFactory(username="mei")
    late = MilestoneFactory(
        project=project, department=department, assignee=mei, due_at=now - timedelta(days=3)
    )
    downstream = MilestoneFactory(project=project, department=department, assignee=None)
    MilestoneFactory(
        project=project,
        department=DepartmentFactory(code="tech"),
        status=MilestoneStatus.DONE,
        completed_at=now - timedelta(days=1, microseconds=7),
        due_at=now - timedelta(days=2),
        description="Signed off.\n双十一",
    )
    project_baseline(project=project, actor=project.owner)
    client.patch(url(downstream), {"depends_on": [late.pk]}, format="json")
    project_forecast_refresh(project=project)
    rows = client.get(url(), {"project": project.pk}).json()["results"]
    assert len(rows) == 3
    for row in rows:
        assert row == client.get(f"{url()}{row['id']}/").json()
    assert {row["id"]: row["is_at_risk"] for row in rows}[downstream.pk]


class TestUnfilteredListSql:
    """A list page that names no filter runs SQL compiled once per process and shape
    (`SqlTemplate`): `now`, the reader's scope and the page are its parameters, never baked in."""

    def test_rows_and_count_are_the_orms(self, client, project, department):
        late = MilestoneFactory(
            project=project, department=department, due_at=timezone.now() - timedelta(hours=1)
        )
        after = MilestoneFactory.create_batch(4, project=project, department=department)
        client.patch(url(after[0]), {"depends_on": [late.pk]}, format="json")
        project_forecast_refresh(project=project)
        SqlTemplate.clear()
        for _ in range(2):  # compiled, then reused
            answer = client.get(url(), {"page_size": 3, "page": 2}).json()
            assert answer["count"] == 5 and len(answer["results"]) == 2
            assert client.get(url(), {"page_size": 3}).json()["results"][0]["id"] == late.pk
        assert SqlTemplate._kept and None not in SqlTemplate._kept.values()  # none fell back
        rows = client.get(url(), {"page_size": 10}).json()["results"]
        filtered = client.get(url(), {"page_size": 10, "project": project.pk}).json()["results"]
        assert rows == filtered  # the same nodes through the ORM (a filter)
        assert {row["id"]: row["depends_on"] for row in rows}[after[0].pk] == [late.pk]
        for row in rows:
            assert row == client.get(f"{url()}{row['id']}/").json()

    def test_now_is_the_requests(self, client, project, department):
        start = timezone.now()
        node = MilestoneFactory(
            project=project, department=department, due_at=start + timedelta(hours=1)
        )
        SqlTemplate.clear()
        with time_machine.travel(start, tick=False):
            assert not client.get(url()).json()["results"][0]["is_overdue"]
        with time_machine.travel(start + timedelta(hours=2), tick=False):
            (row,) = client.get(url()).json()["results"]
        assert row["id"] == node.pk and row["is_overdue"]

    def test_archived_projects_are_a_shape_of_their_own(self, client, project, department):
        MilestoneFactory(project=project, department=department)
        archived = MilestoneFactory(department=department, project__status="archived")
        SqlTemplate.clear()
        for _ in range(2):
            listed = {row["id"] for row in client.get(url()).json()["results"]}
            assert archived.pk not in listed and len(listed) == 1
            everything = client.get(url(), {"archived": "true"}).json()
            assert archived.pk in {row["id"] for row in everything["results"]}
            assert everything["count"] == 2

    def test_an_inactive_reader_still_reads_nothing(self, client, owner, project, department):
        MilestoneFactory(project=project, department=department)
        assert client.get(url()).status_code == 200
        owner.is_active = False
        owner.save(update_fields=["is_active"])
        assert client.get(url()).status_code in {401, 403}


class TestFilters:
    @pytest.fixture
    def nodes(self, project, department):
        now = timezone.now()
        other_dept = DepartmentFactory(code="tech")
        mei = UserFactory(username="mei")
        return {
            "overdue": MilestoneFactory(
                project=project, department=department, due_at=now - timedelta(days=1)
            ),
            "done": MilestoneFactory(
                project=project,
                department=department,
                status=MilestoneStatus.DONE,
                due_at=now - timedelta(days=2),
            ),
            "tech": MilestoneFactory(
                project=project, department=other_dept, assignee=mei, due_at=now + timedelta(days=5)
            ),
            "elsewhere": MilestoneFactory(department=department, due_at=now + timedelta(days=9)),
        }

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"overdue": "true"}, {"overdue"}),
            ({"department": "tech"}, {"tech"}),
            ({"assignee": "mei"}, {"tech"}),
            ({"status": "done"}, {"done"}),
            ({"status": ["done", "todo"]}, {"done", "overdue", "tech", "elsewhere"}),
            ({"due_after": "{now}"}, {"tech", "elsewhere"}),
            ({"due_before": "{now}"}, {"overdue", "done"}),
        ],
    )
    def test_filters(self, client, nodes, params, expected):
        now = timezone.now().isoformat()
        params = {k: (v.format(now=now) if isinstance(v, str) else v) for k, v in params.items()}
        ids = {row["id"] for row in client.get(url(), params).json()["results"]}
        assert ids == {nodes[name].pk for name in expected}

    def test_project_filter(self, client, nodes, project):
        ids = {row["id"] for row in client.get(url(), {"project": project.pk}).json()["results"]}
        assert nodes["elsewhere"].pk not in ids and len(ids) == 3

    @pytest.mark.parametrize(
        "params",
        [{"status": "nope"}, {"due_before": "yesterday"}, {"project": "x"}, {"overdue": "maybe"}],
    )
    def test_bad_filter_is_400(self, client, params):
        response = client.get(url(), params)
        assert response.status_code == 400
        assert set(params) <= set(response.json())


def test_history_lists_every_change(client, node):
    client.patch(url(node), {"title": "Prices approved", "status": "in_progress"}, format="json")
    rows = client.get(url(node, "history/")).json()["results"]
    fields = {row["field"]: row for row in rows}
    assert fields["title"]["old_value"] == "Price approval"
    assert fields["title"]["new_value"] == "Prices approved"
    assert fields["status"]["new_value"] == "in_progress"
    assert fields["title"]["actor"] == "owner"


def test_unknown_node_is_404(client):
    assert client.get("/api/v1/milestones/999999/").status_code == 404
    assert (
        client.patch("/api/v1/milestones/999999/", {"title": "x"}, format="json").status_code == 404
    )
    assert client.get("/api/v1/milestones/999999/history/").status_code == 404


def test_node_cannot_move_to_another_project(client, node):
    other = ProjectFactory(owner=node.project.owner)
    response = client.patch(url(node), {"project": other.pk}, format="json")
    assert response.status_code == 400 and "project" in response.json()


def test_delete(client, node):
    assert client.delete(url(node)).status_code == 204
    assert not Milestone.objects.filter(pk=node.pk).exists()


def test_page_links_are_one_array_parameter(project, department):
    """`AnyOf`: the page's ids as one parameter on PostgreSQL, the rows of `__in`."""
    nodes = MilestoneFactory.create_batch(4, project=project, department=department)
    for node, upstream in zip(nodes[1:], nodes, strict=False):
        MilestoneDependency.objects.create(milestone=node, depends_on=upstream)
    ids = [node.pk for node in nodes]
    links = _page_links(ids)
    if connection.vendor == "postgresql":
        sql, params = links.query.sql_with_params()
        assert "= ANY(%s)" in sql and list(params) == [ids]
    assert list(links) == list(
        MilestoneDependency.objects.filter(milestone_id__in=ids)
        .order_by("depends_on_id")
        .values_list("milestone_id", "depends_on_id", "min_lead_days")
    )
    assert list(_page_links([])) == []


def test_list_rows_are_the_detail_across_page_lengths(client, project, department):
    """One links template serves every page length (its ids are one argument)."""
    nodes = MilestoneFactory.create_batch(5, project=project, department=department)
    client.patch(url(nodes[4]), {"depends_on": [nodes[0].pk, nodes[2].pk]}, format="json")
    SqlTemplate.clear()
    for size in (1, 2, 5):
        for row in client.get(url(), {"page_size": size}).json()["results"]:
            assert row == client.get(f"{url()}{row['id']}/").json()
    assert [key for key in SqlTemplate._kept if key[0] == "milestone-list-links"] != []
    assert len([key for key in SqlTemplate._kept if key[0] == "milestone-list-links"]) == 1


def test_a_local_mean_times_offset_is_the_details(client, project, department):
    """Before 1973 some zones' offsets had seconds (Monrovia: -0:44:30), which JSON renderers
    round: the list writes those as DRF's field does, the text."""
    old = datetime(1970, 6, 1, 12, 0, 30, tzinfo=UTC)
    node = MilestoneFactory(project=project, department=department)
    Milestone.objects.filter(pk=node.pk).update(created_at=old, forecast_at=old)
    with timezone.override(ZoneInfo("Africa/Monrovia")):
        (row,) = client.get(url()).json()["results"]
        assert row == client.get(url(node)).json()
    assert row["created_at"] == "1970-06-01T11:16:00-00:44:30"
