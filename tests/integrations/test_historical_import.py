"""The spreadsheet lead column (`key+2`) and the staff-only historical import: a past project
loaded from an export, closed and baselined with its completion times, raising no alerts."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.accounts.models import AuditEntry
from tracker.alerts.models import Alert
from tracker.alerts.services import alerts_scan
from tracker.integrations.spreadsheets.importing import milestones_import
from tracker.milestones.models import (
    BaselineEntry,
    Milestone,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.notifications.models import OutboxMessage
from tracker.projects.models import Project, ProjectBaseline, ProjectStatus
from tracker.reports.periods import PeriodKind, parse_period
from tracker.reports.selectors import report_of_record
from tracker.reports.services import report_snapshot_save

pytestmark = pytest.mark.django_db


def local(*args):
    return datetime(*args, tzinfo=timezone.get_current_timezone())


def csv_upload(rows, name="nodes.csv"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


@pytest.fixture
def departments():
    return DepartmentFactory(code="merch", name="Merchandising"), DepartmentFactory(
        code="design", name="Design"
    )


def link(downstream, upstream, lead=None):
    MilestoneDependency.objects.create(
        milestone=downstream, depends_on=upstream, min_lead_days=lead
    )


def leads_of(project):
    """Each link of a project by titles, with its declared lead (ids differ between copies)."""
    return sorted(
        MilestoneDependency.objects.filter(milestone__project=project).values_list(
            "depends_on__title", "milestone__title", "min_lead_days"
        )
    )


# The lead column ---------------------------------------------------------------------------


@pytest.fixture
def led_project(owner, departments):
    project = ProjectFactory(owner=owner, name="618")
    stock = MilestoneFactory(
        project=project, title="Stock ready", department=departments[0], due_at=local(2026, 6, 1)
    )
    art = MilestoneFactory(
        project=project, title="Key art", department=departments[1], due_at=local(2026, 6, 2)
    )
    page = MilestoneFactory(
        project=project, title="Landing page", department=departments[1], due_at=local(2026, 6, 8)
    )
    link(page, stock, 2)
    link(page, art)  # no declared lead: the planned gap counts
    link(art, stock, 0)
    return project


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_leads_export_as_key_plus_days_and_import_again(fmt, client, owner, led_project):
    client.force_login(owner)
    response = client.get(reverse("integrations:project_export", args=[led_project.pk, fmt]))
    assert response.status_code == 200
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        by_title = {row[1]: row for row in rows[1:]}
        stock = by_title["Stock ready"][0]
        art = by_title["Key art"][0]
        assert by_title["Landing page"][5] == f"{stock}+2 {art}"
        assert by_title["Key art"][5] == f"{stock}+0"
    target = ProjectFactory(owner=owner)
    answer = client.post(
        reverse("integrations:project_import", args=[target.pk]),
        {"file": SimpleUploadedFile(f"copy.{fmt}", response.content)},
    )
    assert answer.status_code == 302
    assert (
        leads_of(target)
        == leads_of(led_project)
        == [
            ("Key art", "Landing page", None),
            ("Stock ready", "Key art", 0),
            ("Stock ready", "Landing page", 2),
        ]
    )


def test_a_lead_may_be_written_with_spaces_or_a_full_width_plus(client, owner, departments):
    project = ProjectFactory(owner=owner)
    client.force_login(owner)
    rows = [
        ["key", "title", "department", "due", "depends on"],
        ["stock-ready", "Stock ready", "merch", "2026-06-01", ""],
        ["art", "Key art", "design", "2026-06-02", "stock-ready ＋ 1"],
        ["page", "Landing page", "design", "2026-06-08", "stock-ready + 3, art"],
    ]
    answer = client.post(
        reverse("integrations:project_import", args=[project.pk]), {"file": csv_upload(rows)}
    )
    assert answer.status_code == 302
    assert leads_of(project) == [
        ("Key art", "Landing page", None),
        ("Stock ready", "Key art", 1),
        ("Stock ready", "Landing page", 3),
    ]


def test_bad_leads_are_reported_by_row_and_nothing_is_imported(client, owner, departments):
    project = ProjectFactory(owner=owner)
    existing = MilestoneFactory(project=project, department=departments[0])
    client.force_login(owner)
    rows = [
        ["key", "title", "department", "due", "depends on"],
        ["a", "A", "merch", "2026-06-01", ""],
        ["b", "B", "merch", "2026-06-02", "a+two"],
        ["c", "C", "merch", "2026-06-03", "a+366"],
        ["d", "D", "merch", "2026-06-04", "a+-1"],
        ["e", "E", "merch", "2026-06-05", "+2"],
        ["f", "F", "merch", "2026-06-06", "a+1 a+2"],
        ["g", "G", "merch", "2026-06-07", f"#{existing.pk}+4 a+365"],
    ]
    answer = client.post(
        reverse("integrations:project_import", args=[project.pk]), {"file": csv_upload(rows)}
    )
    assert answer.status_code == 400
    errors = [(e.row, e.column, e.message) for e in answer.context["errors"]]
    assert [(row, column) for row, column, _m in errors] == [
        (3, "depends on"),
        (4, "depends on"),
        (5, "depends on"),
        (6, "depends on"),
        (7, "depends on"),
    ]
    assert "0 to 365" in errors[0][2] and "stock-ready+2" in errors[0][2]
    assert "listed twice with different leads" in errors[4][2]
    assert list(Milestone.objects.filter(project=project)) == [existing]
    assert not MilestoneDependency.objects.filter(milestone__project=project).exists()


def test_a_good_lead_on_an_existing_node_is_kept(client, owner, departments):
    project = ProjectFactory(owner=owner)
    existing = MilestoneFactory(project=project, department=departments[0], title="Budget")
    client.force_login(owner)
    rows = [
        ["title", "department", "due", "depends on"],
        ["G", "merch", "2026-06-07", f"#{existing.pk}+4"],
    ]
    answer = client.post(
        reverse("integrations:project_import", args=[project.pk]), {"file": csv_upload(rows)}
    )
    assert answer.status_code == 302
    assert leads_of(project) == [("Budget", "G", 4)]


# The historical import ---------------------------------------------------------------------


@pytest.fixture
def past_campaign(owner, departments):
    """A closed, baselined Double 11 of 2025: on time, late, re-planned, cancelled, never done."""
    merch, design = departments
    lena = UserFactory(username="lena")
    project = BaselinedProjectFactory(
        owner=owner, name="Double 11 2025", status=ProjectStatus.CLOSED, d_day=local(2025, 11, 11)
    )

    def node(title, department, baseline, **fields):
        return MilestoneFactory(
            project=project,
            title=title,
            department=department,
            baseline_due_at=baseline,
            due_at=fields.pop("due_at", baseline),
            **fields,
        )

    stock = node(
        "Stock ready",
        merch,
        local(2025, 11, 3, 18, 0),
        status=MilestoneStatus.DONE,
        completed_at=local(2025, 11, 5, 10, 30),
        template_key="stock-ready",
        assignee=lena,
    )
    art = node(
        "Key art, final",
        design,
        local(2025, 11, 4, 18, 0),
        due_at=local(2025, 11, 6, 18, 0),  # re-planned two days later
        status=MilestoneStatus.DONE,
        completed_at=local(2025, 11, 6, 17, 0),
        template_key="key-art",
    )
    page = node(
        "Landing page",
        design,
        local(2025, 11, 8, 18, 0),
        status=MilestoneStatus.DONE,
        completed_at=local(2025, 11, 8, 12, 0),
        description="Mobile first;\nthen desktop",
    )
    node("Gift wrap", merch, local(2025, 11, 7, 18, 0), status=MilestoneStatus.CANCELLED)
    node("Review", merch, local(2025, 11, 20, 18, 0))  # never finished
    link(page, stock, 2)
    link(page, art)
    link(art, stock, 1)
    return project


def node_records(project):
    """Everything a historical import carries of each node, dependencies by title."""
    nodes = Milestone.objects.filter(project=project).select_related("department", "assignee")
    return sorted(
        (
            node.title,
            node.department.code,
            node.assignee.username if node.assignee else "",
            node.due_at,
            node.baseline_due_at or node.due_at,
            node.status,
            node.completed_at,
            node.description,
            node.template_key,
        )
        for node in nodes
    )


def historical_post(client, file, **fields):
    data = {"file": file, "name": "Double 11 2025 (history)", "kind": "campaign"}
    data["d_day"] = "2025-11-11 00:00"
    data.update(fields)
    return client.post(reverse("integrations:history_import"), data)


def exported(client, project, fmt="csv"):
    response = client.get(reverse("integrations:project_export", args=[project.pk, fmt]))
    assert response.status_code == 200
    return SimpleUploadedFile(f"history.{fmt}", response.content)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_past_project_round_trips_closed_baselined_and_complete(
    fmt, client, staff, owner, past_campaign
):
    client.force_login(staff)
    answer = historical_post(client, exported(client, past_campaign, fmt), owner=owner.pk)
    assert answer.status_code == 302, answer.context and [str(e) for e in answer.context["errors"]]
    copy = Project.objects.exclude(pk=past_campaign.pk).get()
    assert (copy.name, copy.owner, copy.status) == (
        "Double 11 2025 (history)",
        owner,
        ProjectStatus.CLOSED,
    )
    assert copy.d_day == local(2025, 11, 11)
    assert copy.baselined_at is not None and copy.baseline_number == 1
    assert ProjectBaseline.objects.get(project=copy).node_count == 5
    assert node_records(copy) == node_records(past_campaign)
    assert leads_of(copy) == leads_of(past_campaign)
    # The re-planned node's plan of record is its baseline; the move is in its history.
    art = copy.milestones.get(title="Key art, final")
    assert BaselineEntry.objects.get(milestone=art).due_at == local(2025, 11, 4, 18, 0)
    assert art.changes.filter(field="due_at").get().new_value.startswith("2025-11-06T")
    assert not copy.milestones.filter(added_after_baseline=True).exists()
    assert set(AuditEntry.objects.filter(project_ref=copy.pk).values_list("field", flat=True)) >= {
        "baseline",
        "status",
    }


def test_a_historical_import_raises_no_alerts_where_a_normal_one_would(
    client, staff, owner, past_campaign
):
    client.force_login(staff)
    content = exported(client, past_campaign).read()
    assert historical_post(client, SimpleUploadedFile("h.csv", content)).status_code == 302
    copy = Project.objects.exclude(pk=past_campaign.pk).get()
    alerts_scan(now=timezone.now())
    assert not Alert.objects.filter(milestone__project=copy).exists()
    assert not OutboxMessage.objects.exists()
    # The same rows imported into a running project are overdue at once: the scan can alert.
    running = BaselinedProjectFactory(owner=owner)
    milestones_import(project=running, actor=owner, filename="h.csv", content=content)
    alerts_scan(now=timezone.now())
    assert Alert.objects.filter(milestone__project=running).exists()


def test_a_closed_month_shows_the_imported_nodes_as_restatements(
    client, staff, past_campaign, departments
):
    november = parse_period(PeriodKind.MONTH, "2025-11")
    content = exported(client_as(client, staff), past_campaign).read()
    past_campaign.baselined_at = None  # the source leaves the rate: only the copy counts
    past_campaign.save(update_fields=["baselined_at"])
    before = report_snapshot_save(period=november, as_of=november.end + timedelta(days=1))
    assert before.data["due_count"] == 0
    assert historical_post(client, SimpleUploadedFile("h.csv", content)).status_code == 302
    report = report_of_record(period=november)
    assert report["of_record"] and report["restated"]
    assert report["due_count"] == 0  # the figure of record stands …
    assert report["live"]["due_count"] == 4  # … and the live figure counts the import
    restated = {(row["node"], row["field"]) for row in report["restatements"]}
    assert {("Stock ready", "created"), ("Review", "created"), ("Gift wrap", "created")} <= restated


def client_as(client, user):
    client.force_login(user)
    return client


def test_only_staff_import_history(client, owner, past_campaign):
    client.force_login(owner)  # the project's owner, but not staff
    file = exported(client, past_campaign)
    assert client.get(reverse("integrations:history_import")).status_code == 403
    assert historical_post(client, file).status_code == 403
    assert Project.objects.count() == 1
    client.logout()
    assert client.get(reverse("integrations:history_import")).status_code == 302  # sign in


@pytest.mark.parametrize(
    ("edit", "column", "words"),
    [
        (lambda r: r.__setitem__(8, "soon"), "completed at", "is not a date"),
        (lambda r: r.__setitem__(8, "2999-01-01 10:00"), "completed at", "in the future"),
        (lambda r: r.__setitem__(7, "finished"), "status", "No status"),
        (lambda r: r.__setitem__(8, ""), "completed at", "needs its completion time"),
        (lambda r: r.__setitem__(5, r[5] + "+x"), "depends on", "minimum lead"),
        (lambda r: r.__setitem__(11, "bad key!"), "template key", "template key"),
    ],
)
def test_a_bad_historical_file_changes_nothing(edit, column, words, client, staff, past_campaign):
    client.force_login(staff)
    text = exported(client, past_campaign).read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    target = next(row for row in rows if row[1] == "Landing page")
    edit(target)
    answer = historical_post(client, csv_upload(rows))
    assert answer.status_code == 400
    assert [(e.row, e.column) for e in answer.context["errors"]] == [
        (rows.index(target) + 1, column)
    ]
    assert words in answer.context["errors"][0].message
    assert Project.objects.count() == 1
    assert Milestone.objects.exclude(project=past_campaign).count() == 0


def test_a_future_d_day_or_wrong_template_is_a_form_error(client, staff, past_campaign):
    client.force_login(staff)
    file = exported(client, past_campaign)
    answer = historical_post(client, file, d_day="2999-11-11 00:00")
    assert answer.status_code == 400
    assert "D-day has passed" in " ".join(answer.context["form"].errors["d_day"])
    assert Project.objects.count() == 1


def test_the_command_imports_history_or_nothing(tmp_path, client, staff, owner, past_campaign):
    path = tmp_path / "double11-2025.csv"
    path.write_bytes(exported(client_as(client, staff), past_campaign).read())
    out = io.StringIO()
    call_command(
        "import_history",
        str(path),
        name="Double 11 2025",
        kind="campaign",
        d_day="2025-11-11 00:00",
        owner="owner",
        stdout=out,
    )
    assert "5 nodes, closed and baselined" in out.getvalue()
    copy = Project.objects.exclude(pk=past_campaign.pk).get()
    assert node_records(copy) == node_records(past_campaign)

    broken = tmp_path / "broken.csv"
    broken.write_text("title,department,due\nX,nowhere,2025-11-01\n")
    with pytest.raises(CommandError, match="Row 2, department: No department"):
        call_command(
            "import_history",
            str(broken),
            name="Broken",
            kind="campaign",
            d_day="2025-11-11 00:00",
            owner="owner",
        )
    with pytest.raises(CommandError, match="D-day has passed"):
        call_command(
            "import_history",
            str(path),
            name="Future",
            kind="campaign",
            d_day="2999-11-11 00:00",
            owner="owner",
        )
    assert Project.objects.count() == 2


def test_the_page_reads_in_a_constant_number_of_queries(
    client, staff, django_assert_max_num_queries
):
    """The form's selects (owners, templates) are one query each, whatever their size."""
    for _n in range(5):
        DepartmentFactory()
        UserFactory()
    client.force_login(staff)
    with django_assert_max_num_queries(5):
        assert client.get(reverse("integrations:history_import")).status_code == 200
