"""The board's tools in real Chromium, in English and Chinese (issue 16): a bulk change of the
ticked nodes in the list (assign, set the status, shift the dates with one reason), the list
sorted and filtered like the board, and the template editor (edit a node, duplicate a
template). Each action is checked in the database, and no page raises a JavaScript error."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from playwright.sync_api import Locator, Page, expect

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.projects.models import ProjectTemplate
from tracker.projects.services import template_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "zh-hans"]


def watch(page: Page) -> list[str]:
    """Collect JavaScript errors, so a test fails on a broken script, not just a wrong page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def field(form: Locator, label: str) -> Locator:
    """The form's field by its label (whatever suffix the label has in the language)."""
    return form.get_by_label(re.compile("^" + re.escape(label)))


def titles(page: Page) -> Locator:
    """The node titles of the list, in the order it shows them."""
    return page.locator("#node-list tbody tr td:nth-child(2)")


@pytest.mark.parametrize("language", LANGUAGES)
def test_bulk_changes_to_the_ticked_nodes(open_context, screenshot, language):
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin", language=language)
    lead = UserFactory(username="lead", first_name="Dao", last_name="Li")
    merch = DepartmentFactory(code="merch", name="Merchandising", lead=lead)
    project = ProjectFactory(owner=owner, name="Double 11 大促")
    now = timezone.now().replace(second=0, microsecond=0)
    first, second, third = (
        MilestoneFactory(project=project, department=merch, title=title, due_at=now + timedelta(d))
        for title, d in (("Spec", 3), ("Samples", 4), ("Prices", 5))
    )
    page = open_context(owner).new_page()
    errors = watch(page)
    bulk = page.locator("#bulk-form")

    def t(message: str, **values) -> str:
        with translation.override(language):
            return gettext(message) % values if values else gettext(message)

    def tick(*nodes: Milestone) -> None:
        for node in nodes:
            page.get_by_label(t("Tick “%(title)s”", title=node.title), exact=True).check()

    def apply(count: int) -> None:
        bulk.get_by_role("button", name=t("Apply to the ticked nodes")).click()
        with translation.override(language):
            done = ngettext("%(count)d node changed.", "%(count)d nodes changed.", count)
        expect(page.get_by_text(done % {"count": count})).to_be_visible()

    page.goto(f"/projects/{project.pk}/list/")
    expect(titles(page)).to_have_text(["Spec", "Samples", "Prices"])

    # Assign two of them to the lead.
    tick(first, second)
    field(bulk, t("Change")).select_option("assign")
    bulk.locator("select[name=assignee]").select_option(label="Dao Li")
    apply(2)
    for node in (first, second, third):
        node.refresh_from_db()
    assert (first.assignee, second.assignee, third.assignee) == (lead, lead, None)

    # Block the first and the third.
    tick(first, third)
    field(bulk, t("Change")).select_option("status")
    field(bulk, t("Status")).select_option("blocked")
    apply(2)
    assert set(Milestone.objects.filter(status=MilestoneStatus.BLOCKED)) == {first, third}

    # Shift all three by two days, with one reason recorded on each.
    tick(first, second, third)
    field(bulk, t("Change")).select_option("shift")
    field(bulk, t("Days")).fill("2")
    field(bulk, t("Reason for the change")).fill("618 moved")
    apply(3)
    for node, days in ((first, 3), (second, 4), (third, 5)):
        node.refresh_from_db()
        assert node.due_at == now + timedelta(days + 2)
        assert node.changes.filter(field="due_at", reason="618 moved").exists()
    screenshot(page, f"board-bulk-{language}")

    # Nothing ticked: refused with the field's error, and nothing changes.
    field(bulk, t("Change")).select_option("status")
    field(bulk, t("Status")).select_option("done")
    bulk.get_by_role("button", name=t("Apply to the ticked nodes")).click()
    expect(bulk.locator(".errorlist")).to_contain_text(t("Nodes"))
    assert not Milestone.objects.filter(status=MilestoneStatus.DONE).exists()
    assert errors == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_list_sorts_and_filters_like_the_board(open_context, screenshot, language):
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin", language=language)
    tech = DepartmentFactory(code="tech", name="Tech")
    design = DepartmentFactory(code="design", name="Design")
    project = ProjectFactory(owner=owner, name="Double 11 大促")
    now = timezone.now()
    MilestoneFactory(
        project=project, department=tech, title="B checkout", due_at=now + timedelta(2)
    )
    MilestoneFactory(
        project=project, department=design, title="A banner", due_at=now + timedelta(1)
    )
    MilestoneFactory(
        project=project, department=tech, title="C load test", due_at=now + timedelta(5)
    )
    page = open_context(owner).new_page()
    errors = watch(page)

    def t(message: str) -> str:
        with translation.override(language):
            return gettext(message)

    def shown_in_the_database(**filters) -> list[str]:
        nodes = Milestone.objects.filter(project=project, **filters).order_by("due_at")
        return list(nodes.values_list("title", flat=True))

    page.goto(f"/projects/{project.pk}/list/")
    expect(titles(page)).to_have_text(shown_in_the_database())  # by due date

    # A column's heading sorts by it, and again the other way.
    head = page.locator("#node-list thead")
    head.get_by_role("link", name=t("Node")).click()
    expect(head.locator("th[aria-sort=ascending]")).to_contain_text(t("Node"))
    expect(titles(page)).to_have_text(["A banner", "B checkout", "C load test"])
    head.get_by_role("link", name=t("Node")).click()
    expect(head.locator("th[aria-sort=descending]")).to_contain_text(t("Node"))
    expect(titles(page)).to_have_text(["C load test", "B checkout", "A banner"])

    # The board's department filter, keeping the order.
    filters = page.get_by_role("search", name=t("Filter the nodes"))
    field(filters, t("Department")).select_option("tech")
    filters.get_by_role("button", name=t("Filter"), exact=True).click()
    expect(titles(page)).to_have_text(["C load test", "B checkout"])
    assert sorted(shown_in_the_database(department=tech)) == ["B checkout", "C load test"]
    screenshot(page, f"node-list-{language}")

    # Clearing the filters shows every node again.
    page.get_by_role("link", name=t("Clear filters")).click()
    expect(titles(page)).to_have_text(shown_in_the_database())
    assert errors == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_template_editor_edits_a_node_and_duplicates(open_context, screenshot, language):
    DepartmentFactory(code="merch", name="Merchandising")
    DepartmentFactory(code="tech", name="Tech")
    template = template_save(
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
    staff = UserFactory(username="ops", is_staff=True, language=language)
    page = open_context(staff).new_page()
    errors = watch(page)

    def t(message: str, **values) -> str:
        with translation.override(language):
            return gettext(message) % values if values else gettext(message)

    page.goto("/templates/")
    page.get_by_role("link", name="Launch lite", exact=True).click()
    expect(
        page.get_by_role("heading", name=t("Template “%(name)s”", name="Launch lite"))
    ).to_be_visible()
    expect(page.locator("#id_nodes-1-title")).to_have_value("Build, test")

    # Move the spec two days earlier and rename the build node.
    page.locator("#id_nodes-0-offset_days").fill("-12")
    page.locator("#id_nodes-1-title").fill("Build and test")
    page.get_by_role("button", name=t("Save template")).click()
    expect(page.get_by_text(t("Template “%(name)s” saved.", name="Launch lite"))).to_be_visible()
    template.refresh_from_db()
    nodes = {node.key: node for node in template.nodes.all()}
    assert (nodes["spec"].offset_days, nodes["build"].title) == (-12, "Build and test")
    assert nodes["build"].depends_on == ["spec"] and nodes["build"].offset_days == -3
    screenshot(page, f"template-editor-{language}")

    # Duplicate it from the list: the copy opens in the editor with every node.
    page.get_by_role("link", name=t("All templates")).click()
    row = page.locator("tr", has=page.get_by_role("link", name="Launch lite", exact=True))
    row.get_by_role("button", name=t("Duplicate")).click()
    copy_name = t("%(name)s (copy)", name="Launch lite")
    expect(
        page.get_by_role("heading", name=t("Template “%(name)s”", name=copy_name))
    ).to_be_visible()
    copy = ProjectTemplate.objects.get(code="launch-lite-copy")
    expect(page).to_have_url(f"/templates/{copy.pk}/")
    assert copy.name == copy_name
    assert [(n.key, n.title, n.offset_days) for n in copy.nodes.all()] == [
        ("spec", "Spec", -12),
        ("build", "Build and test", -3),
    ]
    expect(page.locator("#id_nodes-1-title")).to_have_value("Build and test")
    assert errors == []
