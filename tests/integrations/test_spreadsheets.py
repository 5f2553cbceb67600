"""Import nodes from CSV/XLSX (validated as a whole, all or nothing) and export nodes and
report tables as CSV/XLSX."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.accounts.models import User
from tracker.milestones.models import Milestone, MilestoneChange, MilestoneStatus
from tracker.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def departments():
    return DepartmentFactory(code="merch", name="Merchandising"), DepartmentFactory(
        code="design", name="Design"
    )


@pytest.fixture
def lena():
    return UserFactory(username="lena", email="lena@example.com")


def csv_file(rows, name="nodes.csv", encoding="utf-8"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


def xlsx_file(rows, name="nodes.xlsx"):
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def upload(client, project, file):
    return client.post(reverse("integrations:project_import", args=[project.pk]), {"file": file})


def local(*args):
    return datetime(*args, tzinfo=timezone.get_current_timezone())


HEADER = ["key", "title", "department", "assignee", "due", "depends on"]


def test_a_good_csv_is_imported_with_dependencies_and_history(
    client, project, owner, departments, lena
):
    existing = MilestoneFactory(project=project, title="Budget signed", department=departments[0])
    client.force_login(owner)
    response = upload(
        client,
        project,
        csv_file(
            [
                [*HEADER, "description"],
                [
                    "banner",
                    "Banner art",
                    "design",
                    "lena@example.com",
                    "2026-11-05 18:00",
                    f"price; #{existing.pk}",
                    "Main visual",
                ],
                ["price", "Price approval", "Merchandising", "lena", "2026-11-02", "", ""],
                ["", "", "", "", "", "", ""],  # blank rows are skipped
                ["", "Go live", "merch", "", "2026/11/11 00:00", "banner", ""],
            ]
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:board", args=[project.pk])
    nodes = {m.title: m for m in Milestone.objects.filter(project=project)}
    assert set(nodes) == {"Budget signed", "Banner art", "Price approval", "Go live"}
    banner, price = nodes["Banner art"], nodes["Price approval"]
    assert banner.department.code == "design" and banner.assignee == lena
    assert banner.description == "Main visual"
    assert banner.due_at == local(2026, 11, 5, 18, 0)
    assert price.due_at == local(2026, 11, 2, 18, 0)  # a date alone: the end of the working day
    assert set(banner.depends_on.all()) == {price, existing}
    assert list(nodes["Go live"].depends_on.all()) == [banner]
    created = MilestoneChange.objects.filter(field="created", milestone__in=[banner, price])
    assert {(c.actor, c.reason) for c in created} == {(owner, "Imported from nodes.csv")}


def test_a_good_xlsx_is_imported(client, project, owner, departments):
    client.force_login(owner)
    upstream = MilestoneFactory(project=project, title="Kick-off", department=departments[0])
    response = upload(
        client,
        project,
        xlsx_file(
            [
                ["Title", "Department", "Due", "Depends_On"],
                ["Stock check", "merch", datetime(2026, 11, 3, 10, 30), upstream.pk],
                ["Copy review", "design", datetime(2026, 11, 4).date(), None],
            ]
        ),
    )
    assert response.status_code == 302
    stock = Milestone.objects.get(title="Stock check")
    assert stock.due_at == local(2026, 11, 3, 10, 30)
    assert list(stock.depends_on.all()) == [upstream]
    assert Milestone.objects.get(title="Copy review").due_at == local(2026, 11, 4, 18, 0)


def test_a_gb18030_csv_from_a_chinese_excel_is_read(client, project, owner, departments):
    client.force_login(owner)
    file = csv_file(
        [["标题", "部门", "截止时间"], ["价格审批", "merch", "2026-11-02 18:00"]],
        encoding="gb18030",
    )
    assert upload(client, project, file).status_code == 302
    assert Milestone.objects.get().title == "价格审批"


BROKEN = [
    # rows below the header, expected (row, column, words in the message)
    ([["", "A", "nowhere", "", "2026-11-02", ""]], (2, "department", "No department")),
    ([["", "A", "merch", "ghost", "2026-11-02", ""]], (2, "assignee", "No active user")),
    ([["", "A", "merch", "", "next friday", ""]], (2, "due", "is not a date")),
    ([["", "A", "merch", "", "", ""]], (2, "due", "needs a due date")),
    ([["", "", "merch", "", "2026-11-02", ""]], (2, "title", "needs a title")),
    ([["", "A" * 201, "merch", "", "2026-11-02", ""]], (2, "title", "At most 200")),
    ([["", "A", "merch", "", "2026-11-02", "zed"]], (2, "depends on", "neither the key")),
    # A title is not a key: "Fine row" is two tokens, neither of them a key.
    ([["", "A", "merch", "", "2026-11-02", "Fine row"]], (2, "depends on", "not titles")),
    ([["a", "A", "merch", "", "2026-11-02", "a"]], (2, "depends on", "cannot depend on itself")),
    (
        [["a", "A", "merch", "", "2026-11-02", "b"], ["b", "B", "merch", "", "2026-11-02", "a"]],
        (0, "", "make a cycle"),
    ),
    (
        [["a", "A", "merch", "", "2026-11-02", ""], ["a", "B", "merch", "", "2026-11-03", ""]],
        (3, "key", "also on row 3"),
    ),
    ([["a b", "A", "merch", "", "2026-11-02", ""]], (2, "key", "no spaces")),
    ([["a,b", "A", "merch", "", "2026-11-02", ""]], (2, "key", "no spaces")),
    ([["", "A", "merch", "", "2026-11-02", "#999999"]], (2, "depends on", "neither the key")),
]


@pytest.mark.parametrize(("rows", "expected"), BROKEN)
def test_a_broken_file_names_row_and_column_and_writes_nothing(
    rows, expected, client, project, owner, departments
):
    client.force_login(owner)
    good = ["fine", "Fine row", "merch", "", "2026-11-02", ""]
    response = upload(client, project, csv_file([HEADER, good, *rows]))
    assert response.status_code == 400
    errors = response.context["errors"]
    row, column, words = expected
    if row:
        row += 1  # the good row comes first
    assert any(e.row == row and e.column == column and words in e.message for e in errors), errors
    assert not Milestone.objects.exists()
    assert "Nothing was imported" in response.content.decode()


def test_every_problem_is_reported_at_once(client, project, owner, departments):
    client.force_login(owner)
    rows = [
        HEADER,
        ["", "A", "nowhere", "ghost", "soon", ""],
        ["", "", "merch", "", "2026-11-02", "zed"],
    ]
    errors = upload(client, project, csv_file(rows)).context["errors"]
    assert [(e.row, e.column) for e in errors] == [
        (2, "department"),
        (2, "assignee"),
        (2, "due"),
        (3, "title"),
        (3, "depends on"),
    ]


@pytest.mark.parametrize(
    ("file", "words"),
    [
        (
            csv_file(
                [["title", "dept", "deadline", "colour"], ["A", "merch", "2026-11-02", "red"]]
            ),
            "Unknown column",
        ),
        (csv_file([["title", "department"], ["A", "merch"]]), "“due” is missing"),
        (csv_file([["title", "title", "department", "due"]]), "appears twice"),
        (csv_file([]), "empty"),
        (csv_file([HEADER]), "no rows"),
        (SimpleUploadedFile("nodes.xlsx", b"PK\x03\x04 not really"), "not a readable .xlsx"),
        (SimpleUploadedFile("nodes.txt", b"title\nA"), "Upload a .csv or .xlsx"),
    ],
)
def test_unreadable_files_get_a_clear_error(file, words, client, project, owner, departments):
    client.force_login(owner)
    response = upload(client, project, file)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Milestone.objects.exists()


def test_a_department_lead_imports_only_into_their_lane(client, project, departments):
    lead = UserFactory()
    merch = departments[0]
    merch.lead = lead
    merch.save()
    client.force_login(lead)
    response = upload(
        client,
        project,
        csv_file(
            [
                HEADER,
                ["", "Ours", "merch", "", "2026-11-02", ""],
                ["", "Theirs", "design", "", "2026-11-02", ""],
            ]
        ),
    )
    assert response.status_code == 400
    [error] = response.context["errors"]
    assert (error.row, error.column) == (3, "department")
    assert not Milestone.objects.exists()
    client.force_login(UserFactory())
    assert client.get(reverse("integrations:project_import", args=[project.pk])).status_code == 403


# Export ---------------------------------------------------------------------------------------


@pytest.fixture
def exported_project(departments, lena, owner):
    project = ProjectFactory(owner=owner, name="Double 11")
    first = MilestoneFactory(
        project=project, title="Budget", department=departments[0], due_at=local(2026, 11, 1, 9, 0)
    )
    second = MilestoneFactory(
        project=project,
        title='=HYPERLINK("http://evil")',
        department=departments[1],
        assignee=lena,
        due_at=local(2026, 11, 2, 18, 0),
    )
    second.depends_on.add(first)
    return project


def test_export_csv_is_escaped_and_importable_again(client, owner, exported_project):
    client.force_login(owner)
    response = client.get(reverse("integrations:project_export", args=[exported_project.pk, "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:7] == [
        "key",
        "title",
        "department",
        "assignee",
        "due",
        "depends on",
        "depends on (titles)",
    ]
    budget = rows[1][0]
    assert rows[1][1:6] == ["Budget", "merch", "", "2026-11-01 09:00", ""]
    assert rows[2][1] == '\'=HYPERLINK("http://evil")'  # never run as a formula
    assert rows[2][5:7] == [budget, "Budget"]  # the key to read, the title to show

    target = ProjectFactory(owner=owner)
    file = SimpleUploadedFile("again.csv", response.content)
    assert upload(client, target, file).status_code == 302
    copy = Milestone.objects.get(project=target, title__startswith="=HYPERLINK")
    assert copy.depends_on.get().title == "Budget"
    assert copy.due_at == local(2026, 11, 2, 18, 0)


def test_export_xlsx_keeps_text_as_text(client, owner, exported_project):
    client.force_login(owner)
    response = client.get(
        reverse("integrations:project_export", args=[exported_project.pk, "xlsx"])
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][4] == datetime(2026, 11, 1, 9, 0)
    cell = sheet.cell(row=3, column=2)
    assert cell.value == '=HYPERLINK("http://evil")' and cell.data_type == "s"


def test_unknown_formats_are_not_found(client, owner, exported_project):
    client.force_login(owner)
    assert client.get(f"/integrations/projects/{exported_project.pk}/export.pdf").status_code == 404


@pytest.fixture
def report_data(departments):
    merch, design = departments
    project = BaselinedProjectFactory(name="Double 11")  # only baselined projects count
    due = local(2026, 11, 17, 18, 0)
    MilestoneFactory(
        project=project, department=merch, due_at=due, status=MilestoneStatus.DONE, completed_at=due
    )
    MilestoneFactory(project=project, department=merch, title="Late one", due_at=due)
    MilestoneFactory(
        project=project,
        department=design,
        due_at=due + timedelta(days=1),
        status=MilestoneStatus.DONE,
        completed_at=due + timedelta(days=2),
    )
    return project


@pytest.mark.parametrize(
    ("kind", "label", "table", "header", "rows"),
    [
        ("weekly", "2026-W47", "departments", ["code", "name", "due_count"], 2),
        ("weekly", "2026-W47", "projects", ["id", "name", "due_count"], 1),
        ("weekly", "2026-W47", "slips", ["id", "title", "project"], 2),
        ("weekly", "2026-W47", "trend", ["week", "start", "due_count"], 12),
        ("monthly", "2026-11", "departments", ["code", "name", "due_count"], 2),
        ("monthly", "2026-11", "trend", ["week", "start", "due_count"], 12),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_tables_export(kind, label, table, header, rows, fmt, client, report_data):
    client.force_login(UserFactory())
    url = reverse(
        "integrations:report_export",
        kwargs={"kind": kind, "label": label, "table": table, "fmt": fmt},
    )
    response = client.get(url)
    assert response.status_code == 200
    if fmt == "csv":
        data = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        data = [
            list(r)
            for r in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)
        ]
    assert data[0][: len(header)] == header
    assert len(data) - 1 == rows
    if table == "departments":
        merch = next(r for r in data if r[0] == "merch")
        assert [str(v) for v in merch[2:5]] == ["2", "1", "1"]
        assert float(merch[7]) == 0.5


def test_report_export_scope_and_bad_input(client, report_data, departments):
    client.force_login(UserFactory())
    url = reverse(
        "integrations:report_export",
        kwargs={"kind": "weekly", "label": "2026-W47", "table": "departments", "fmt": "csv"},
    )
    only_design = client.get(url + "?department=design").content.decode("utf-8-sig")
    assert "design" in only_design and "merch" not in only_design
    assert client.get(url + f"?project={report_data.pk}").status_code == 200
    assert client.get(url + "?department=nope").status_code == 400
    assert client.get(url + "?project=abc").status_code == 400
    bad = url.replace("2026-W47", "2026-W60")
    response = client.get(bad)
    assert response.status_code == 400 and "no ISO week 60" in response.content.decode()
    assert client.get(url.replace("departments", "salaries")).status_code == 404


def test_scripts_download_with_an_api_token(client, owner, exported_project):
    from tests.factories import make_token

    url = reverse("integrations:project_export", args=[exported_project.pk, "csv"])
    assert client.get(url).status_code == 302  # people sign in first
    key = make_token(owner, scope="read")
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and b"Budget" in response.content
    assert client.get(url, HTTP_AUTHORIZATION="Token wrong").status_code == 401


# Round trip -----------------------------------------------------------------------------------

NASTY_TITLES = [
    "Price approval, stock check, and sign-off",
    'The "hero" banner, v2; final',
    "Two lines\nof title",
    "Tab\tseparated\tcells",
    "价格审批，库存核对、签字；「主视觉」定稿",
    "=SUM(A1:A2), just text",
    "'quoted', \"both\"; and ‘curly’",
    "备货、上架，以及；分号",
]


def node_shapes(project):
    """What an import carries of each node, dependencies by title (ids differ between copies)."""
    nodes = Milestone.objects.filter(project=project).select_related("department", "assignee")
    return sorted(
        (
            node.title,
            node.department.code,
            node.assignee.username if node.assignee else "",
            node.due_at,
            node.description,
            tuple(sorted(node.depends_on.values_list("title", flat=True))),
        )
        for node in nodes
    )


def export_then_import(client, source, target, fmt):
    url = reverse("integrations:project_export", args=[source.pk, fmt])
    response = client.get(url)
    assert response.status_code == 200
    answer = upload(client, target, SimpleUploadedFile(f"copy.{fmt}", response.content))
    assert answer.status_code == 302, answer.context and [str(e) for e in answer.context["errors"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_imports_into_identical_nodes_whatever_the_titles(
    fmt, client, owner, departments, lena
):
    source = ProjectFactory(owner=owner)
    nodes = []
    for index, title in enumerate(NASTY_TITLES):
        node = MilestoneFactory(
            project=source,
            title=title,
            department=departments[index % 2],
            assignee=lena if index % 3 == 0 else None,
            due_at=local(2026, 11, 1 + index, 9 + index, 30),
            description=f"Notes, with commas;\nand {title}",
        )
        node.depends_on.add(*nodes[-2:])  # each waits on the two before it
        nodes.append(node)
    client.force_login(owner)
    target = ProjectFactory(owner=owner)
    export_then_import(client, source, target, fmt)
    assert node_shapes(target) == node_shapes(source)
    assert len(node_shapes(target)) == len(NASTY_TITLES)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_shipped_demo_exports_and_imports_again(fmt, client, shipped_templates, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    call_command("seed_demo", stdout=io.StringIO())
    owner = User.objects.get(username="owner")
    client.force_login(owner)
    sources = list(Project.objects.filter(milestones__isnull=False).distinct())
    assert sources
    for source in sources:
        assert any("," in t or "，" in t for t in source.milestones.values_list("title", flat=True))
        target = ProjectFactory(owner=owner, name=f"Copy of {source.name}")
        export_then_import(client, source, target, fmt)
        assert node_shapes(target) == node_shapes(source)


def test_a_broken_export_reports_every_row_and_changes_nothing(client, owner, exported_project):
    client.force_login(owner)
    text = client.get(
        reverse("integrations:project_export", args=[exported_project.pk, "csv"])
    ).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    rows[2][5] = "Budget"  # a title where a key belongs
    rows[1][2] = "nowhere"
    target = ProjectFactory(owner=owner)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    response = upload(client, target, SimpleUploadedFile("edited.csv", buffer.getvalue().encode()))
    assert response.status_code == 400
    assert [(e.row, e.column) for e in response.context["errors"]] == [
        (2, "department"),
        (3, "depends on"),
    ]
    assert not Milestone.objects.filter(project=target).exists()
