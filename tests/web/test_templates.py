"""The template editor: staff change a template's nodes through the same validation as the
API, and duplicate one; nobody else reaches it; a refused save changes nothing."""

import pytest
from django.urls import reverse

from tests.factories import DepartmentFactory, UserFactory
from tracker.projects.models import ProjectTemplate
from tracker.projects.services import template_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(db):
    DepartmentFactory(code="merch", name="Merchandising")
    DepartmentFactory(code="tech", name="Tech")
    return template_save(
        actor=None,
        code="launch-lite",
        name="Launch lite",
        kind="launch",
        nodes=[
            {"key": "spec", "title": "Spec", "department": "merch", "offset_days": -10},
            {
                "key": "build",
                "title": "Build, test",
                "department": "tech",
                "offset_days": -3,
                "time": "12:00",
                "depends_on": ["spec"],
            },
        ],
    )


def _post_data(template, rows, **fields) -> dict:
    data = {
        "name": template.name,
        "code": template.code,
        "kind": template.kind,
        "description": "",
        "offset_unit": template.offset_unit,
        "roll_rule": template.roll_rule,
        "nodes-TOTAL_FORMS": str(len(rows)),
        "nodes-INITIAL_FORMS": "0",
        "nodes-MIN_NUM_FORMS": "0",
        "nodes-MAX_NUM_FORMS": "500",
        **fields,
    }
    for i, row in enumerate(rows):
        data.update({f"nodes-{i}-{key}": value for key, value in row.items()})
    return data


def test_the_editor_shows_the_nodes_and_saves_changes(client_for, template):
    client = client_for(UserFactory(is_staff=True))
    url = reverse("web:template_edit", args=[template.pk])
    html = client.get(url).content.decode()
    assert 'value="Build, test"' in html and 'value="spec"' in html

    rows = [
        {
            "key": "spec",
            "title": "Spec",
            "department": "merch",
            "offset_days": "-12",
            "time": "18:00",
        },
        {
            "key": "build",
            "title": "Build, test",
            "department": "tech",
            "offset_days": "-3",
            "time": "12:00",
            "depends_on": "spec",
        },
        {
            "key": "launch",
            "title": "Go live",
            "department": "tech",
            "offset_days": "0",
            "time": "10:00",
            "depends_on": "build, spec",
        },
    ]
    answer = client.post(url, _post_data(template, rows, name="Launch lite v2"))

    assert answer.status_code == 302
    template.refresh_from_db()
    nodes = {node.key: node for node in template.nodes.all()}
    assert template.name == "Launch lite v2"
    assert nodes["spec"].offset_days == -12
    assert nodes["launch"].depends_on == ["build", "spec"]
    assert nodes["launch"].time_of_day.strftime("%H:%M") == "10:00"


def test_the_editor_saves_with_its_empty_rows_untouched(client_for, template):
    """What the page posts: its nodes, then the three empty rows, whose time keeps its
    default; those rows add nothing and are not refused as incomplete."""
    client = client_for(UserFactory(is_staff=True))
    url = reverse("web:template_edit", args=[template.pk])
    rows = [
        {"key": "spec", "title": "Spec", "department": "merch", "offset_days": "-12"},
        {"key": "build", "title": "Build", "department": "tech", "offset_days": "-3"},
    ]
    rows = [{**row, "time": "18:00", "depends_on": "", "description": ""} for row in rows]
    empty = {"key": "", "title": "", "department": "", "offset_days": "", "time": "18:00"}
    data = _post_data(template, [*rows, empty, empty, empty])
    data["nodes-INITIAL_FORMS"] = "2"
    answer = client.post(url, data)
    assert answer.status_code == 302
    assert [(n.key, n.offset_days) for n in template.nodes.all()] == [("spec", -12), ("build", -3)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"depends_on": "nowhere"}, "depends on unknown keys: nowhere"),
        ({"depends_on": "loop"}, "make a cycle"),
        ({"time": "25:00"}, "Enter a valid time"),
        ({"key": "has space"}, "Enter a valid"),
    ],
)
def test_a_refused_save_shows_why_and_changes_nothing(client_for, template, row, message):
    client = client_for(UserFactory(is_staff=True))
    base = {
        "key": "loop",
        "title": "Loop",
        "department": "tech",
        "offset_days": "-1",
        "time": "18:00",
    }
    answer = client.post(
        reverse("web:template_edit", args=[template.pk]),
        _post_data(template, [{**base, **row}], name="Changed"),
    )
    assert answer.status_code == 400
    assert message in answer.content.decode()
    template.refresh_from_db()
    assert template.name == "Launch lite" and template.nodes.count() == 2


def test_duplicate_copies_every_node_under_a_free_code(client_for, template):
    client = client_for(UserFactory(is_staff=True))
    first = client.post(reverse("web:template_duplicate", args=[template.pk]))
    second = client.post(reverse("web:template_duplicate", args=[template.pk]))
    assert first.status_code == second.status_code == 302
    codes = sorted(
        ProjectTemplate.objects.filter(code__startswith="launch-lite").values_list(
            "code", flat=True
        )
    )
    assert codes == ["launch-lite", "launch-lite-copy", "launch-lite-copy-2"]
    copy = ProjectTemplate.objects.get(code="launch-lite-copy")
    assert copy.name == "Launch lite (copy)"
    assert [(n.key, n.depends_on) for n in copy.nodes.all()] == [("spec", []), ("build", ["spec"])]


def test_only_staff_reach_the_editor(client_for, template):
    client = client_for(UserFactory())
    for url in (reverse("web:template_list"), reverse("web:template_edit", args=[template.pk])):
        assert client.get(url).status_code == 403
    assert client.post(reverse("web:template_duplicate", args=[template.pk])).status_code == 403
    assert not ProjectTemplate.objects.filter(code__contains="copy").exists()
