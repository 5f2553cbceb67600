"""Projects list with health, creating from a template with a preview, and the baseline."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.milestones.forecast import forecasts_refresh
from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
from tracker.projects.models import OffsetUnit, Project, ProjectStatus
from tracker.projects.services import template_save
from tracker.web.forms import DATETIME_FORMAT
from tracker.web.selectors import Health, project_health, project_rows

pytestmark = pytest.mark.django_db
TEMPLATE_DEPARTMENTS = ["cs", "design", "marketing", "merch", "ops", "supply", "tech"]


@pytest.mark.parametrize(
    ("overdue", "at_risk", "breached", "health"),
    [
        (0, 0, False, Health.ON_TRACK),
        (1, 0, False, Health.AT_RISK),
        (0, 2, False, Health.AT_RISK),
        (0, 0, True, Health.OFF_TRACK),
        (3, 1, True, Health.OFF_TRACK),
    ],
)
def test_health_rule(overdue, at_risk, breached, health):
    assert (
        project_health(overdue_count=overdue, at_risk_count=at_risk, deviation_breached=breached)
        == health
    )


@time_machine.travel(datetime(2026, 11, 11, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_project_rows_measure_each_project_in_constant_queries(owner):
    dept = DepartmentFactory()
    now = timezone.now()
    calm = ProjectFactory(owner=owner, name="Calm")
    MilestoneFactory(project=calm, department=dept)
    shaky = ProjectFactory(owner=owner, name="Shaky")
    late = MilestoneFactory(project=shaky, department=dept, due_at=now + timedelta(days=-20))
    waiting = MilestoneFactory(project=shaky, department=dept)
    MilestoneDependency.objects.create(milestone=waiting, depends_on=late)
    burning = BaselinedProjectFactory(  # only baselined projects count in the rate
        owner=owner, name="Burning", deviation_threshold=Decimal("0.10")
    )
    # Due earlier this week and not done: deviated now.
    MilestoneFactory(project=burning, department=dept, due_at=now - timedelta(minutes=30))
    forecasts_refresh(projects=Project.objects.all(), now=now)  # what the scan keeps

    with CaptureQueriesContext(connection) as captured:
        rows = {row.project.name: row for row in project_rows(projects=Project.objects.all())}

    assert len(captured) <= 8
    assert rows["Calm"].health == Health.ON_TRACK
    # At risk: the late node itself and the one it pushes (docs/forecast.md).
    assert (rows["Shaky"].health, rows["Shaky"].overdue_count, rows["Shaky"].at_risk_count) == (
        Health.AT_RISK,
        1,
        2,
    )
    assert rows["Burning"].health == Health.OFF_TRACK
    assert rows["Burning"].deviation_rate == 1.0
    assert rows["Calm"].days_to_d_day == 30


def test_list_hides_archived_by_default_and_filters(client_for, owner):
    ProjectFactory(owner=owner, name="Double 11", status=ProjectStatus.ACTIVE)
    ProjectFactory(owner=owner, name="618 archive", status=ProjectStatus.ARCHIVED)
    ProjectFactory(owner=owner, name="Earbuds", kind="launch")
    client = client_for(owner)
    url = reverse("web:project_list")

    default = client.get(url).content.decode()
    assert "Double 11" in default and "Earbuds" in default and "618 archive" not in default
    assert "D-30" in default and "On track" in default

    everything = client.get(url, {"status": "all"}).content.decode()
    assert "618 archive" in everything

    launches = client.get(url, {"kind": "launch"}).content.decode()
    assert "Earbuds" in launches and "Double 11" not in launches

    search = client.get(url, {"q": "double"}).content.decode()
    assert "Double 11" in search and "Earbuds" not in search

    healthy = client.get(url, {"health": "off_track"}).content.decode()
    assert "No project matches these filters" in healthy


def test_list_empty_state(client_for, owner):
    html = client_for(owner).get(reverse("web:project_list")).content.decode()
    assert "No projects yet" in html


def _create_data(**overrides) -> dict:
    d_day = timezone.localtime(timezone.now() + timedelta(days=70)).replace(hour=0, minute=0)
    return {
        "name": "Double 11 2026",
        "kind": "campaign",
        "d_day": d_day.strftime(DATETIME_FORMAT),
        "threshold_percent": "12.5",
        **overrides,
    }


def test_create_previews_then_creates(client_for, owner, shipped_templates):
    for code in TEMPLATE_DEPARTMENTS:
        DepartmentFactory(code=code)
    template = shipped_templates["sale-campaign"]
    client = client_for(owner)
    url = reverse("web:project_create")
    assert client.get(url).status_code == 200

    preview = client.post(url, _create_data(template=template.pk, preview="1"))
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Preview: 24 nodes" in html
    assert "Campaign kickoff and targets" in html
    assert not Project.objects.exists()  # a preview writes nothing

    created = client.post(url, _create_data(template=template.pk, create="1"))
    project = Project.objects.get()
    assert created.status_code == 302
    assert created["Location"] == reverse("web:board", args=[project.pk])
    assert (project.owner, project.template, project.deviation_threshold) == (
        owner,
        template,
        Decimal("0.125"),
    )
    assert project.milestones.count() == 24


@override_settings(DUE_SOON_HOURS=8, ESCALATE_AFTER_HOURS=16)
def test_create_gives_the_windows_of_the_settings(client_for, owner):
    response = client_for(owner).post(reverse("web:project_create"), _create_data(create="1"))
    assert response.status_code == 302
    project = Project.objects.get()
    assert (project.due_soon_window, project.escalate_after) == (
        timedelta(hours=8),
        timedelta(hours=16),
    )


def test_create_without_template_makes_an_empty_board(client_for, owner):
    response = client_for(owner).post(reverse("web:project_create"), _create_data(create="1"))
    assert response.status_code == 302
    assert Project.objects.get().milestones.count() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"d_day": "after the holidays"}, "Enter a valid date/time."),
        ({"threshold_percent": "120"}, "less than or equal to 100"),
        ({"kind": "festival"}, "Select a valid choice."),
    ],
)
def test_create_with_bad_input_creates_nothing(client_for, owner, overrides, message):
    response = client_for(owner).post(
        reverse("web:project_create"), _create_data(create="1", **overrides)
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Project.objects.exists()


def test_create_refuses_a_template_of_another_kind(client_for, owner, shipped_templates):
    response = client_for(owner).post(
        reverse("web:project_create"),
        _create_data(kind="launch", template=shipped_templates["sale-campaign"].pk, create="1"),
    )
    assert response.status_code == 422
    assert "is a template for a sale campaign" in response.content.decode()
    assert not Project.objects.exists()


def test_create_reports_missing_departments_and_rolls_back(client_for, owner, shipped_templates):
    DepartmentFactory(code="ops")
    data = _create_data(template=shipped_templates["sale-campaign"].pk)
    client = client_for(owner)

    preview = client.post(reverse("web:project_create"), {**data, "preview": "1"})
    assert "Some departments do not exist yet" in preview.content.decode()

    response = client.post(reverse("web:project_create"), {**data, "create": "1"})
    assert response.status_code == 422
    assert "Create these departments first: cs, design" in response.content.decode()
    assert not Project.objects.exists()
    assert not Milestone.objects.exists()


def test_baseline_asks_for_confirmation_then_locks(client_for, owner, project):
    node = MilestoneFactory(project=project, department=DepartmentFactory())
    url = reverse("web:project_baseline", args=[project.pk])
    client = client_for(owner)

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Baseline now" in confirm.content.decode()
    project.refresh_from_db()
    assert project.baselined_at is None

    done = client.post(url, follow=True)
    assert "is baselined" in done.content.decode()
    project.refresh_from_db()
    node.refresh_from_db()
    assert project.baselined_at is not None
    assert node.baseline_due_at == node.due_at

    again = client.post(url, follow=True)
    assert "the baseline is locked" in again.content.decode()


def test_baseline_button_only_for_managers(client_for, owner, project, member):
    url = reverse("web:board", args=[project.pk])
    assert "Baseline…" in client_for(owner).get(url).content.decode()
    assert (
        client_for(member).get(reverse("web:project_baseline", args=[project.pk])).status_code
        == 403
    )


def test_archived_board_still_opens(client_for, owner):
    project = ProjectFactory(owner=owner, status=ProjectStatus.ARCHIVED)
    MilestoneFactory(project=project, status=MilestoneStatus.DONE)
    assert client_for(owner).get(reverse("web:board", args=[project.pk])).status_code == 200


@time_machine.travel(datetime(2026, 8, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
def test_preview_shows_which_nodes_moved_and_why(client_for, owner, shipped_templates):
    """Planned in August, before the D-day's holidays (the wizard refuses a past D-day)."""
    template = template_save(
        actor=None,
        code="calendar-days",
        name="Calendar days",
        kind="campaign",
        offset_unit=OffsetUnit.CALENDAR_DAYS,
        nodes=[
            {"key": "stock", "title": "Stock ordered", "department": "supply", "offset_days": -40},
            {"key": "freeze", "title": "Code freeze", "department": "tech", "offset_days": -3},
        ],
    )
    client = client_for(owner)
    data = _create_data(template=template.pk, preview="1", d_day="2026-11-11T00:00")
    html = client.post(reverse("web:project_create"), data).content.decode()
    assert "2 nodes moved off weekends or holidays." in html
    assert "10-02 → 09-30" in html and "National Day" in html
    assert "11-08 → 11-06" in html and "Sunday" in html

    war_room = {**data, "war_room": "on", "war_room_days_before": "3", "war_room_days_after": "3"}
    html = client.post(reverse("web:project_create"), war_room).content.decode()
    assert "1 node moved off a weekend or holiday." in html  # Sunday D-3 is worked
    assert "11-08 → 11-06" not in html


def test_project_settings_set_working_time(client_for, owner):
    project = ProjectFactory(owner=owner, war_room=False)
    url = reverse("web:project_settings", args=[project.pk])
    board = client_for(owner).get(reverse("web:board", args=[project.pk])).content.decode()
    assert url in board
    assert client_for(owner).get(url).status_code == 200
    assert client_for(UserFactory()).get(url).status_code == 403
    data = _settings_data(
        project,
        working_hours="10:00-19:00",
        due_soon_hours="16",
        escalate_after_hours="8",
        war_room="on",
        war_room_days_before="5",
        war_room_days_after="2",
    )
    assert client_for(owner).post(url, data).status_code == 302
    project.refresh_from_db()
    assert project.working_hours == "10:00-19:00" and project.war_room
    assert project.due_soon_window == timedelta(hours=16)
    assert (project.war_room_days_before, project.war_room_days_after) == (5, 2)

    bad = client_for(owner).post(url, {**data, "working_hours": "19:00-10:00"})
    assert bad.status_code == 422
    assert "Working periods must each start before they end" in bad.content.decode()
    project.refresh_from_db()
    assert project.working_hours == "10:00-19:00"


def _close_d_day(days: int = 10) -> str:
    d_day = timezone.localtime(timezone.now() + timedelta(days=days)).replace(hour=0, minute=0)
    return d_day.strftime(DATETIME_FORMAT)


def test_a_d_day_in_the_past_is_refused(client_for, owner):
    response = client_for(owner).post(
        reverse("web:project_create"), _create_data(create="1", d_day=_close_d_day(-400))
    )
    assert response.status_code == 422
    assert "The D-day has passed" in response.content.decode()
    assert not Project.objects.exists()


def test_past_nodes_are_marked_and_nothing_is_created_until_chosen(
    client_for, owner, shipped_templates
):
    """A D-day 10 days away puts about half the campaign template in the past: the preview
    says so, and creating straight away asks instead of creating an overdue plan."""
    for code in TEMPLATE_DEPARTMENTS:
        DepartmentFactory(code=code)
    data = _create_data(template=shipped_templates["sale-campaign"].pk, d_day=_close_d_day())
    client = client_for(owner)

    html = client.post(reverse("web:project_create"), {**data, "preview": "1"}).content.decode()
    past = html.count('class="is-past"')
    assert past >= 5 and "nodes are already past" in html
    assert "template plans" in html

    refused = client.post(reverse("web:project_create"), {**data, "create": "1"})
    assert refused.status_code == 422
    assert "choose below what to do with them" in refused.content.decode()
    assert not Project.objects.exists()


def test_apply_sets_every_past_node_to_the_choice_for_all(client_for, owner, shipped_templates):
    """Each past row's own select is posted with the form; "Apply" beside the choice for all
    sets every row to it (it used to fill only rows without a choice, so it did nothing)."""
    for code in TEMPLATE_DEPARTMENTS:
        DepartmentFactory(code=code)
    data = _create_data(template=shipped_templates["sale-campaign"].pk, d_day=_close_d_day())
    client = client_for(owner)
    html = client.post(reverse("web:project_create"), {**data, "preview": "1"}).content.decode()
    past_keys = [k for k in re.findall(r'name="past-([\w-]+)" id=', html) if k != "all"]
    rows = {f"past-{key}": "reschedule" for key in past_keys}
    applied = client.post(
        reverse("web:project_create"), {**data, **rows, "past-all": "done", "apply-all": "1"}
    ).content.decode()
    for key in past_keys:
        select = applied.split(f'name="past-{key}"', 1)[1].split("</select>", 1)[0]
        assert 'value="done" selected' in select, key
    assert not Project.objects.exists()  # still a preview


def test_past_nodes_are_done_left_out_or_rescheduled_as_chosen(
    client_for, owner, shipped_templates
):
    for code in TEMPLATE_DEPARTMENTS:
        DepartmentFactory(code=code)
    template = shipped_templates["sale-campaign"]
    data = _create_data(template=template.pk, d_day=_close_d_day())
    client = client_for(owner)
    html = client.post(reverse("web:project_create"), {**data, "preview": "1"}).content.decode()
    past_keys = [k for k in re.findall(r'name="past-([\w-]+)" id=', html) if k != "all"]
    done_key, skipped_key = past_keys[0], past_keys[1]

    response = client.post(
        reverse("web:project_create"),
        {
            **data,
            "create": "1",
            "past-all": "reschedule",
            f"past-{done_key}": "done",
            f"past-{skipped_key}": "skip",
        },
    )

    assert response.status_code == 302, response.content.decode()
    project = Project.objects.get()
    nodes = {node.template_key: node for node in project.milestones.all()}
    assert len(nodes) == 23 and skipped_key not in nodes
    assert nodes[done_key].status == MilestoneStatus.DONE
    assert nodes[done_key].completed_at == nodes[done_key].due_at
    rescheduled = [nodes[key] for key in past_keys[2:]]
    assert rescheduled and all(node.due_at > timezone.now() for node in rescheduled)
    assert not project.milestones.open().overdue(timezone.now()).exists()
    assert not MilestoneDependency.objects.filter(depends_on__template_key=skipped_key).exists()


def _settings_data(project, **changes) -> dict:
    data = {
        "name": project.name,
        "d_day": timezone.localtime(project.d_day).strftime(DATETIME_FORMAT),
        "status": project.status,
        "owner": str(project.owner_id),
        "threshold_percent": str((project.deviation_threshold * 100).quantize(Decimal("0.01"))),
        "working_hours": project.working_hours,
        "due_soon_hours": "24",
        "escalate_after_hours": "24",
        "escalate_owner_after_hours": "48",
        "escalate_contact_after_hours": "72",
        "war_room_days_before": "3",
        "war_room_days_after": "3",
    }
    return {**data, **changes}


def test_project_settings_edit_the_escalation_ladder_audited(client_for, owner):
    from tracker.accounts.models import AuditEntry

    project = ProjectFactory(owner=owner, war_room=False)
    contact = UserFactory(username="duty", first_name="Dao", last_name="Li")
    url = reverse("web:project_settings", args=[project.pk])
    page = client_for(owner).get(url).content.decode()
    assert "Escalate to the owner after" in page and "Dao Li" in page
    data = _settings_data(
        project,
        escalate_after_hours="4",
        escalate_owner_after_hours="12",
        escalate_contact_after_hours="20",
        nudge_every_hours="3",
        escalation_contact=str(contact.pk),
    )
    assert client_for(owner).post(url, data).status_code == 302
    project.refresh_from_db()
    assert (
        project.escalate_after,
        project.escalate_owner_after,
        project.escalate_contact_after,
        project.nudge_every,
        project.escalation_contact,
    ) == (timedelta(hours=4), timedelta(hours=12), timedelta(hours=20), timedelta(hours=3), contact)
    entries = dict(
        AuditEntry.objects.filter(project_ref=project.pk).values_list("field", "new_value")
    )
    assert entries["escalate_owner_after"] == "12:00:00"
    assert entries["nudge_every"] == "3:00:00"
    assert entries["escalation_contact"] == "duty"

    cleared = client_for(owner).post(
        url, {**data, "nudge_every_hours": "", "escalation_contact": ""}
    )
    assert cleared.status_code == 302
    project.refresh_from_db()
    assert (project.nudge_every, project.escalation_contact) == (None, None)


@pytest.mark.parametrize(
    "field", ["escalate_after_hours", "escalate_owner_after_hours", "nudge_every_hours"]
)
@pytest.mark.parametrize("value", ["0", "-2"])
def test_project_settings_refuse_a_ladder_window_that_is_not_positive(
    client_for, owner, field, value
):
    project = ProjectFactory(owner=owner, war_room=False)
    url = reverse("web:project_settings", args=[project.pk])
    response = client_for(owner).post(url, _settings_data(project, **{field: value}))
    assert response.status_code == 422
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    before = (project.escalate_after, project.escalate_owner_after, project.nudge_every)
    project.refresh_from_db()
    assert (project.escalate_after, project.escalate_owner_after, project.nudge_every) == before


def test_project_settings_name_status_owner_threshold_audited(client_for, owner):
    from tracker.accounts.models import AuditEntry

    project = ProjectFactory(owner=owner, war_room=False, status="planning")
    heir = UserFactory(username="heir", first_name="Hui", last_name="Zhang")
    url = reverse("web:project_settings", args=[project.pk])
    page = client_for(owner).get(url).content.decode()
    assert "Hui Zhang" in page and ">heir<" not in page  # names, not usernames
    data = _settings_data(
        project, name="Renamed", status="active", owner=str(heir.pk), threshold_percent="15"
    )
    assert client_for(owner).post(url, data).status_code == 302
    project.refresh_from_db()
    assert (project.name, project.status, project.owner) == ("Renamed", "active", heir)
    assert project.deviation_threshold == Decimal("0.15")
    assert project.baselined_at is not None  # activation baselines, as the service does
    fields = set(AuditEntry.objects.filter(project_ref=project.pk).values_list("field", flat=True))
    assert {"owner", "deviation_threshold", "status"} <= fields
    # The former owner is no longer allowed in.
    assert client_for(owner).get(url).status_code == 403


def test_moving_the_d_day_previews_then_needs_a_reason(client_for, owner):
    project = ProjectFactory(owner=owner, war_room=False)
    dept = DepartmentFactory(code="merch", name="Merchandising")
    node = MilestoneFactory(project=project, department=dept, title="Pricing")
    MilestoneFactory(project=project, department=dept, title="Done one", status="done")
    url = reverse("web:project_settings", args=[project.pk])
    later = timezone.localtime(project.d_day + timedelta(days=7)).strftime(DATETIME_FORMAT)
    client = client_for(owner)

    preview = client.post(url, _settings_data(project, d_day=later, preview="1"))
    html = preview.content.decode()
    assert preview.status_code == 200 and "1 node moves:" in html
    assert "Pricing" in html and "Done one" not in html
    moved_to = timezone.localtime(node.due_at + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")
    assert moved_to in html
    node.refresh_from_db()
    project.refresh_from_db()
    assert timezone.localtime(project.d_day).strftime(DATETIME_FORMAT) != later  # nothing saved

    refused = client.post(url, _settings_data(project, d_day=later))
    assert refused.status_code == 422 and "Say why the D-day moves." in refused.content.decode()
    project.refresh_from_db()
    assert timezone.localtime(project.d_day).strftime(DATETIME_FORMAT) != later

    saved = client.post(url, _settings_data(project, d_day=later, change_reason="Supplier late"))
    assert saved.status_code == 302
    project.refresh_from_db()
    old_due = node.due_at
    node.refresh_from_db()
    assert timezone.localtime(project.d_day).strftime(DATETIME_FORMAT) == later
    # The D-day typed is to the minute: the node moves by the same amount.
    assert abs(node.due_at - (old_due + timedelta(days=7))) < timedelta(minutes=1)


def test_project_settings_are_for_the_owner_and_staff(client_for, owner, staff):
    project = ProjectFactory(owner=owner)
    url = reverse("web:project_settings", args=[project.pk])
    lead = UserFactory()
    DepartmentFactory(code="merch", lead=lead)
    assert client_for(lead).get(url).status_code == 403
    assert client_for(lead).post(url, _settings_data(project, name="x")).status_code == 403
    assert client_for(staff).get(url).status_code == 200
