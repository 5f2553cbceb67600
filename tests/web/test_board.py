"""The board page and its htmx fragments: cards, drag/Move, inline edit, conflicts, adding."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.accounts.models import Department
from tracker.milestones.forecast import project_forecast_refresh
from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.services import project_baseline
from tracker.web.forms import DATETIME_FORMAT

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}

# Queries of a board page, whatever its size: session, user, project, departments (the filter's
# and the lanes'), assignees (filter), dependency counts, nodes with their flags, folded lanes,
# the board stamp, the channels link, the inbox bell; the working calendar's years when a node
# is forecast late.
BOARD_QUERY_BUDGET = 12


def local(moment) -> str:
    return timezone.localtime(moment).strftime(DATETIME_FORMAT)


def edit_data(node: Milestone, **changes) -> dict:
    """What the inline editor posts when the user changes `changes` on a freshly loaded card."""
    loaded = {
        "title": node.title,
        "assignee": str(node.assignee_id or ""),
        "due_at": local(node.due_at),
        "status": node.status,
        "completed_at": local(node.completed_at) if node.completed_at else "",
    }
    data = {**loaded, **{f"initial-{k}": v for k, v in loaded.items()}}
    data.update({"version": str(node.version), "change_reason": ""})
    data.update(changes)
    return data


def test_board_shows_lanes_columns_and_card_badges(client_for, owner, project):
    merch = DepartmentFactory(code="merch", name="Merchandising")
    DepartmentFactory(code="design", name="Design")
    now = timezone.now()
    late = MilestoneFactory(
        project=project, department=merch, title="Overdue forecast", due_at=now - timedelta(days=2)
    )
    waiting = MilestoneFactory(project=project, department=merch, title="Waiting pricing")
    MilestoneDependency.objects.create(milestone=waiting, depends_on=late)
    slipped = MilestoneFactory(project=project, department=merch, title="Slipped page")
    project_baseline(project=project, actor=owner)
    slipped.refresh_from_db()
    milestone_update(
        milestone_id=slipped.pk,
        actor=owner,
        data={"due_at": slipped.due_at + timedelta(days=3)},
        change_reason="Supplier late",
        reason_code="supplier",
    )

    response = client_for(owner).get(reverse("web:board", args=[project.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="lane"') == 2  # every department is a lane when unfiltered
    for label in ("To do", "In progress", "Blocked", "Done", "Cancelled"):
        assert label in html
    assert "⚠ Overdue" in html
    assert "▲ At risk" in html
    assert "+3 days" in html and "vs baseline" in html
    assert "1 dependency" in html
    assert 'draggable="true"' in html  # the owner may move every card
    assert f'hx-get="{reverse("web:card_edit", args=[waiting.pk])}?version=' in html


def test_board_renders_in_constant_queries(client_for, owner):
    """A 300-node board costs the same queries as a 30-node board (NetBox-style budget)."""
    departments = [DepartmentFactory(code=f"d{i}", lead=UserFactory()) for i in range(6)]
    assignees = UserFactory.create_batch(5)
    client = client_for(owner)

    def board_queries(size: int) -> int:
        project = ProjectFactory(owner=owner)
        now = timezone.now()
        nodes = Milestone.objects.bulk_create(
            Milestone(
                project=project,
                title=f"Node {i}",
                department=departments[i % 6],
                assignee=assignees[i % 5],
                due_at=now + timedelta(days=i - size // 2),
                status=MilestoneStatus.TODO,
                position=i,
            )
            for i in range(size)
        )
        MilestoneDependency.objects.bulk_create(
            MilestoneDependency(milestone=nodes[i], depends_on=nodes[i - 1]) for i in range(1, size)
        )
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("web:board", args=[project.pk]))
        assert response.status_code == 200
        assert response.content.decode().count('class="card ') == size
        return len(captured)

    small, large = board_queries(30), board_queries(300)
    assert small == large
    assert large <= BOARD_QUERY_BUDGET


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"department": "merch"}, ["Forecast", "Pricing"], ["Banner"]),
        ({"assignee": "ann"}, ["Forecast"], ["Pricing", "Banner"]),
        ({"overdue": "on"}, ["Forecast"], ["Pricing", "Banner"]),
        ({"at_risk": "on"}, ["Forecast", "Pricing"], ["Banner"]),  # overdue is at risk too
    ],
)
def test_board_filters(client_for, owner, project, query, shown, hidden):
    merch = DepartmentFactory(code="merch", name="Merchandising")
    design = DepartmentFactory(code="design", name="Design")
    ann = UserFactory(username="ann")
    forecast = MilestoneFactory(
        project=project,
        department=merch,
        title="Forecast",
        assignee=ann,
        due_at=timezone.now() - timedelta(days=1),
    )
    pricing = MilestoneFactory(project=project, department=merch, title="Pricing")
    MilestoneDependency.objects.create(milestone=pricing, depends_on=forecast)
    MilestoneFactory(project=project, department=design, title="Banner")
    project_forecast_refresh(project=project)

    html = client_for(owner).get(reverse("web:board", args=[project.pk]), query).content.decode()

    for title in shown:
        assert f">{title}</a>" in html
    for title in hidden:
        assert f">{title}</a>" not in html
    assert "Clear filters" in html


def test_board_offers_only_what_the_user_may_do(client_for, project, lead, member):
    """A department lead edits and adds in their own lane only; a plain member only reads."""
    merch = Department.objects.get(code="merch")
    design = Department.objects.get(code="design")
    MilestoneFactory(project=project, department=merch, title="Merch node")
    MilestoneFactory(project=project, department=design, title="Design node")
    url = reverse("web:board", args=[project.pk])

    lead_html = client_for(lead).get(url).content.decode()
    assert lead_html.count('draggable="true"') == 1
    assert reverse("web:node_add", args=[project.pk, merch.pk]) in lead_html
    assert reverse("web:node_add", args=[project.pk, design.pk]) not in lead_html

    member_html = client_for(member).get(url).content.decode()
    assert 'draggable="true"' not in member_html
    assert "data-edit" not in member_html
    assert "/add/" not in member_html
    assert "Baseline…" not in member_html


def test_server_refuses_what_is_not_offered(client_for, project, node, member):
    client = client_for(member)
    move = client.post(
        reverse("web:card_move", args=[node.pk]), {"status": "done", "version": 1}, **HX
    )
    edit = client.get(reverse("web:card_edit", args=[node.pk]), **HX)
    save = client.post(reverse("web:card_edit", args=[node.pk]), edit_data(node, title="X"), **HX)
    add = client.post(
        reverse("web:node_add", args=[project.pk, node.department_id]),
        {"title": "Sneaky", "due_at": local(timezone.now())},
        **HX,
    )
    baseline = client.post(reverse("web:project_baseline", args=[project.pk]))

    assert [r.status_code for r in (move, edit, save, add, baseline)] == [403] * 5
    node.refresh_from_db()
    assert (node.status, node.title, node.version) == ("todo", "Price approval", 1)
    assert not Milestone.objects.filter(title="Sneaky").exists()
    project.refresh_from_db()
    assert project.baselined_at is None


def test_assignee_may_edit_their_own_card(client_for, project, node, member):
    node.assignee = member
    node.save()
    response = client_for(member).post(
        reverse("web:card_move", args=[node.pk]), {"status": "in_progress", "version": 1}, **HX
    )
    assert response.status_code == 200
    node.refresh_from_db()
    assert node.status == "in_progress"


def test_move_changes_the_status_and_records_history(client_for, owner, node):
    response = client_for(owner).post(
        reverse("web:card_move", args=[node.pk]), {"status": "done", "version": 1}, **HX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-status="done"' in html and 'data-version="2"' in html
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE and node.completed_at is not None
    change = node.changes.get(field="status")
    assert (change.old_value, change.new_value, change.actor) == ("todo", "done", owner)


def test_move_with_a_stale_version_is_a_conflict_showing_current_values(client_for, owner, node):
    other = UserFactory(username="other", is_staff=True)  # someone else who may edit it
    milestone_update(milestone_id=node.pk, actor=other, data={"status": "blocked"})

    response = client_for(owner).post(
        reverse("web:card_move", args=[node.pk]), {"status": "done", "version": 1}, **HX
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "someone else changed this node" in html
    assert 'data-status="blocked"' in html and 'data-version="2"' in html
    node.refresh_from_db()
    assert node.status == "blocked"


@pytest.mark.parametrize(
    "data",
    [{"status": "finished", "version": 1}, {"status": "done"}, {"status": "done", "version": "x"}],
)
def test_move_with_bad_input_changes_nothing(client_for, owner, node, data):
    response = client_for(owner).post(reverse("web:card_move", args=[node.pk]), data, **HX)
    assert response.status_code == 422
    assert "Choose one of the board&#x27;s columns." in response.content.decode()
    node.refresh_from_db()
    assert (node.status, node.version) == ("todo", 1)


def test_move_without_javascript_redirects_with_a_message(client_for, owner, node):
    response = client_for(owner).post(
        reverse("web:card_move", args=[node.pk]), {"status": "in_progress", "version": 1}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:board", args=[node.project_id])
    page = client_for(owner).get(response["Location"])
    assert page.status_code == 200
    node.refresh_from_db()
    assert node.status == "in_progress"


def test_edit_form_loads_current_values(client_for, owner, node):
    response = client_for(owner).get(reverse("web:card_edit", args=[node.pk]), {"version": 1}, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="initial-due_at"' in html  # remembers what the user loaded
    assert local(node.due_at) in html
    assert "changed since you loaded" not in html


def test_edit_form_warns_when_the_card_changed_since_the_board_loaded(client_for, owner, node):
    milestone_update(milestone_id=node.pk, actor=owner, data={"title": "Renamed"})
    html = (
        client_for(owner)
        .get(reverse("web:card_edit", args=[node.pk]), {"version": 1}, **HX)
        .content.decode()
    )
    assert "changed since you loaded the board" in html
    assert 'value="Renamed"' in html


def test_edit_sends_only_changed_fields(client_for, owner, node):
    new_due = node.due_at + timedelta(days=2)
    response = client_for(owner).post(
        reverse("web:card_edit", args=[node.pk]),
        edit_data(node, due_at=local(new_due)),
        **HX,
    )
    assert response.status_code == 200
    node.refresh_from_db()
    assert local(node.due_at) == local(new_due)
    assert list(node.changes.exclude(field="created").values_list("field", flat=True)) == ["due_at"]


def test_baselined_due_date_needs_a_reason(client_for, owner, project, node):
    project_baseline(project=project, actor=owner)
    node.refresh_from_db()
    new_due = local(node.due_at + timedelta(days=1))
    url = reverse("web:card_edit", args=[node.pk])
    client = client_for(owner)

    editor = client.get(url, **HX).content.decode()
    assert 'name="reason_code"' in editor and 'value="supplier"' in editor
    assert "Supplier or stock delay" in editor

    refused = client.post(url, edit_data(node, due_at=new_due), **HX)
    assert refused.status_code == 422
    assert "choose a reason code for moving its due date" in refused.content.decode()
    node.refresh_from_db()
    assert node.version == 2  # only the baseline's bump

    saved = client.post(
        url,
        edit_data(
            node, due_at=new_due, change_reason="Supplier slipped a week", reason_code="supplier"
        ),
        **HX,
    )
    assert saved.status_code == 200
    change = node.changes.get(field="due_at")
    assert (change.reason, change.reason_code) == ("Supplier slipped a week", "supplier")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "cancelled"}, "choose a reason code for cancelling it"),
        ({"status": "done"}, "finished after its planned due"),
    ],
)
def test_baselined_cancel_and_late_completion_need_a_reason(
    client_for, owner, project, node, changes, message
):
    Milestone.objects.filter(pk=node.pk).update(due_at=timezone.now() - timedelta(hours=2))
    project_baseline(project=project, actor=owner)
    node.refresh_from_db()
    url = reverse("web:card_edit", args=[node.pk])
    client = client_for(owner)
    refused = client.post(url, edit_data(node, **changes), **HX)
    assert refused.status_code == 422 and message in refused.content.decode()
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO
    saved = client.post(url, edit_data(node, reason_code="resource", **changes), **HX)
    assert saved.status_code == 200
    assert node.changes.get(field="status").reason_code == "resource"


def test_unbaselined_editor_offers_no_reason_select(client_for, owner, node):
    editor = client_for(owner).get(reverse("web:card_edit", args=[node.pk]), **HX)
    assert 'name="reason_code"' not in editor.content.decode()


def test_back_dated_completion(client_for, owner, node):
    yesterday = timezone.now() - timedelta(days=1)
    url = reverse("web:card_edit", args=[node.pk])
    client = client_for(owner)

    future = client.post(
        url,
        edit_data(node, status="done", completed_at=local(timezone.now() + timedelta(days=1))),
        **HX,
    )
    assert future.status_code == 422
    assert "Completion cannot be in the future." in future.content.decode()

    saved = client.post(url, edit_data(node, status="done", completed_at=local(yesterday)), **HX)
    assert saved.status_code == 200
    node.refresh_from_db()
    assert node.status == "done"
    assert local(node.completed_at) == local(yesterday)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "This field is required."),
        ({"due_at": "next tuesday"}, "Enter a valid date/time."),
        ({"status": "finished"}, "Select a valid choice."),
        ({"version": ""}, "The form was incomplete."),
    ],
)
def test_edit_with_bad_input_changes_nothing(client_for, owner, node, changes, message):
    response = client_for(owner).post(
        reverse("web:card_edit", args=[node.pk]), edit_data(node, **changes), **HX
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    node.refresh_from_db()
    assert node.version == 1


def test_conflicting_edit_keeps_my_changes_and_shows_theirs(client_for, owner, node):
    """Someone else moves the card while I edit its due date: nothing is overwritten, I see
    their value, my change stays in the form, and saving again keeps their status."""
    loaded = edit_data(node)  # I open the editor at version 1
    milestone_update(
        milestone_id=node.pk,
        actor=UserFactory(username="colleague", is_staff=True),
        data={"status": "blocked"},
    )
    my_due = local(node.due_at + timedelta(days=3))
    url = reverse("web:card_edit", args=[node.pk])
    client = client_for(owner)

    conflict = client.post(url, {**loaded, "due_at": my_due}, **HX)

    assert conflict.status_code == 409
    html = conflict.content.decode()
    assert "someone else changed this node while you were editing" in html
    assert "Blocked" in html  # their value, in the comparison table
    form = conflict.context["form"]
    assert form["due_at"].value() == my_due  # mine, kept
    assert form["status"].value() == "blocked"  # theirs, not my stale "todo"
    assert form["version"].value() == "2"
    node.refresh_from_db()
    assert (node.status, node.version) == ("blocked", 2)
    assert local(node.due_at) != my_due

    # Saving the re-opened form applies my change on top of theirs.
    resubmit = {name: form[name].value() or "" for name in form.fields}
    resubmit.update({f"initial-{k}": form.data[f"initial-{k}"] for k in form.EDITABLE})
    saved = client.post(url, resubmit, **HX)
    assert saved.status_code == 200
    node.refresh_from_db()
    assert (node.status, local(node.due_at)) == ("blocked", my_due)


def test_edit_without_changes_writes_nothing(client_for, owner, node):
    response = client_for(owner).post(
        reverse("web:card_edit", args=[node.pk]), edit_data(node), **HX
    )
    assert response.status_code == 200
    node.refresh_from_db()
    assert node.version == 1


def test_assignee_choices_are_the_department_people(client_for, owner, project, node, lead):
    merch = Department.objects.get(code="merch")
    MembershipFactory(user=UserFactory(username="merch-member"), department=merch)
    UserFactory(username="outsider")
    html = client_for(owner).get(reverse("web:card_edit", args=[node.pk]), **HX).content.decode()
    assert ">lead</option>" in html and ">merch-member</option>" in html
    assert "outsider" not in html


def test_cancel_returns_the_card(client_for, owner, node):
    response = client_for(owner).get(reverse("web:card", args=[node.pk]), **HX)
    assert response.status_code == 200
    assert f'id="card-{node.pk}"' in response.content.decode()


def test_add_a_node_in_a_lane(client_for, project, lead):
    merch = Department.objects.get(code="merch")
    url = reverse("web:node_add", args=[project.pk, merch.pk])
    client = client_for(lead)
    form = client.get(url, **HX)
    assert form.status_code == 200 and 'name="title"' in form.content.decode()

    due = timezone.now() + timedelta(days=5)
    response = client.post(
        url, {"title": "Coupon stacking rules", "due_at": local(due), "assignee": lead.pk}, **HX
    )

    assert response.status_code == 200
    node = Milestone.objects.get(title="Coupon stacking rules")
    assert (node.project, node.department, node.assignee) == (project, merch, lead)
    html = response.content.decode()
    assert f'id="card-{node.pk}"' in html and 'class="add-slot"' in html
    assert node.changes.filter(field="created", actor=lead).exists()


def test_add_with_bad_input_creates_nothing(client_for, project, lead):
    merch = Department.objects.get(code="merch")
    response = client_for(lead).post(
        reverse("web:node_add", args=[project.pk, merch.pk]),
        {"title": "", "due_at": "soon"},
        **HX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "This field is required." in html and "Enter a valid date/time." in html
    assert not Milestone.objects.exists()


def test_board_empty_states(client_for, owner, project):
    html = client_for(owner).get(reverse("web:board", args=[project.pk])).content.decode()
    assert "No departments yet" in html
    DepartmentFactory(code="ops")
    filtered = client_for(owner).get(reverse("web:board", args=[project.pk]), {"overdue": "on"})
    assert "No node matches these filters" in filtered.content.decode()


def test_unknown_project_and_node_are_404(client_for, owner):
    client = client_for(owner)
    assert client.get(reverse("web:board", args=[999999])).status_code == 404
    assert client.get(reverse("web:card_edit", args=[999999])).status_code == 404
    assert client.get(reverse("web:node_detail", args=[999999])).status_code == 404


def test_unknown_filter_values_are_reported_and_ignored(client_for, owner, project, node):
    response = client_for(owner).get(
        reverse("web:board", args=[project.pk]), {"department": "nope"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Department: Select a valid choice. nope is not one of the available choices." in html
    assert ">Price approval</a>" in html


def test_the_board_stamp_moves_with_every_change_and_costs_one_query(client_for, owner, project):
    department = DepartmentFactory()
    node = MilestoneFactory(project=project, department=department)
    client = client_for(owner)
    url = reverse("web:board_stamp", args=[project.pk])

    def stamp() -> str:
        return client.get(url).json()["stamp"]

    first = stamp()
    assert stamp() == first  # nothing changed
    milestone_update(milestone_id=node.pk, actor=owner, data={"title": "Renamed"})
    second = stamp()
    other = MilestoneFactory(project=project, department=department)
    third = stamp()
    node.delete()
    fourth = stamp()
    assert len({first, second, third, fourth}) == 4 and other
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    stamp_queries = [q for q in queries if "milestones_milestone" in q["sql"]]
    assert len(stamp_queries) == 1  # the one aggregate (the project check reads projects)


def test_a_folded_lane_stays_folded_on_every_board_for_that_person(client_for, owner, project):
    tech = DepartmentFactory(code="tech", name="Tech")
    MilestoneFactory(project=project, department=tech, title="Checkout")
    other = MilestoneFactory(department=tech).project
    other.owner = owner
    other.save()
    client = client_for(owner)

    answer = client.post(
        reverse("web:lane_collapse", args=[project.pk, tech.pk]),
        {"collapsed": "1"},
        headers={"X-Requested-With": "fetch"},
    )

    assert answer.status_code == 204
    for board in (project, other):
        html = client.get(reverse("web:board", args=[board.pk])).content.decode()
        assert f'class="lane is-collapsed" id="lane-{tech.pk}"' in html
    assert (
        "is-collapsed"
        not in client_for(UserFactory(is_staff=True))
        .get(reverse("web:board", args=[project.pk]))
        .content.decode()
    )  # another person's boards are unchanged
    plain = client.post(
        reverse("web:lane_collapse", args=[project.pk, tech.pk]), {"collapsed": "0"}
    )
    assert plain.status_code == 302
    assert not owner.collapsed_lanes.exists()
    missing = client.post(
        reverse("web:lane_collapse", args=[project.pk, 999999]), {"collapsed": "1"}
    )
    assert missing.status_code == 404


def test_the_node_list_sorts_and_filters_like_the_board(client_for, owner, project):
    tech = DepartmentFactory(code="tech", name="Tech")
    design = DepartmentFactory(code="design", name="Design")
    now = timezone.now()
    MilestoneFactory(
        project=project, department=tech, title="B checkout", due_at=now + timedelta(2)
    )
    MilestoneFactory(
        project=project, department=design, title="A banner", due_at=now - timedelta(1)
    )
    MilestoneFactory(
        project=project, department=tech, title="C load test", due_at=now + timedelta(5)
    )
    client = client_for(owner)
    url = reverse("web:node_list", args=[project.pk])

    def titles(**query) -> list[str]:
        """The three titles in the order the page lists them (absent ones left out)."""
        html = client.get(url, query).content.decode()
        found = [t for t in ("A banner", "B checkout", "C load test") if t in html]
        return sorted(found, key=html.index)

    assert titles() == ["A banner", "B checkout", "C load test"]  # by due date
    assert titles(sort="-title") == ["C load test", "B checkout", "A banner"]
    assert titles(department="tech") == ["B checkout", "C load test"]
    assert titles(overdue="on") == ["A banner"]
    bad = client.get(url, {"sort": "password"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    small = len(queries)
    for i in range(20):
        MilestoneFactory(project=project, department=tech, title=f"Extra {i}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert len(queries) == small  # constant per page


def test_bulk_changes_apply_to_every_ticked_node_or_to_none(client_for, owner, project, lead):
    merch = Department.objects.get(code="merch")
    now = timezone.now().replace(microsecond=0)
    first = MilestoneFactory(project=project, department=merch, due_at=now + timedelta(3))
    second = MilestoneFactory(project=project, department=merch, due_at=now + timedelta(4))
    client = client_for(owner)
    url = reverse("web:node_bulk_edit", args=[project.pk])
    ids = [first.pk, second.pk]

    moved = client.post(
        url, {"ids": ids, "action": "shift", "days": "2", "change_reason": "618 moved"}
    )
    assert moved.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.due_at, second.due_at) == (now + timedelta(5), now + timedelta(6))
    assert first.changes.filter(field="due_at", reason="618 moved").exists()

    assigned = client.post(url, {"ids": ids, "action": "assign", "assignee": lead.pk})
    assert assigned.status_code == 302
    assert set(Milestone.objects.filter(pk__in=ids).values_list("assignee", flat=True)) == {lead.pk}

    # A node of another project is not a choice; a missing field is named; nothing changes.
    stranger = MilestoneFactory(department=merch)
    for bad in (
        {"ids": [first.pk, stranger.pk], "action": "status", "status": "blocked"},
        {"ids": ids, "action": "status"},
        {"ids": ids, "action": "shift", "days": "0"},
        {"action": "status", "status": "blocked"},
    ):
        answer = client.post(url, bad)
        assert answer.status_code == 400, bad
    assert not Milestone.objects.filter(status="blocked").exists()


def test_a_bulk_change_refused_for_one_node_undoes_the_batch(client_for, project, lead):
    """The lead may edit the merch lane's nodes only: one tech node in the batch refuses it
    all, naming that node."""
    merch = Department.objects.get(code="merch")
    mine = MilestoneFactory(project=project, department=merch, title="Ours")
    theirs = MilestoneFactory(project=project, department=DepartmentFactory(), title="Theirs")
    answer = client_for(lead).post(
        reverse("web:node_bulk_edit", args=[project.pk]),
        {"ids": [mine.pk, theirs.pk], "action": "status", "status": "blocked"},
    )
    assert answer.status_code == 403
    assert "“Theirs”" in answer.content.decode()
    assert not Milestone.objects.filter(status="blocked").exists()
