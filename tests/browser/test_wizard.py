"""The new-project wizard's past dates in real Chromium, in English and Chinese (issue 16): a
D-day closer than the template's span marks the past nodes and asks, per node or for all, to
mark them done, leave them out or keep them with a new date; a D-day in the past is refused."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from tests.factories import DepartmentFactory, UserFactory
from tracker.milestones.models import MilestoneStatus
from tracker.projects.models import Project, ProjectTemplate
from tracker.projects.services import template_load_shipped

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEPARTMENTS = ["merch", "supply", "design", "tech", "marketing", "cs", "ops"]


def watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def local(days: int) -> str:
    moment = timezone.localtime(timezone.now() + timedelta(days=days)).replace(hour=0, minute=0)
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_past_nodes_are_marked_and_chosen_and_a_past_d_day_is_refused(
    open_context, screenshot, language
):
    template_load_shipped()
    for code in DEPARTMENTS:
        DepartmentFactory(code=code)
    template = ProjectTemplate.objects.get(code="sale-campaign")
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin", language=language)
    zh = language == "zh-hans"
    page = open_context(owner).new_page()
    errors = watch(page)

    page.goto("/projects/new/")
    page.locator("#id_name").fill("Double 11 大促")
    page.locator("#id_kind").select_option("campaign")
    page.locator("#id_template").select_option(str(template.pk))
    page.locator("#id_d_day").fill(local(10))
    page.get_by_role("button", name="预览排期" if zh else "Preview the schedule").click()
    warning = page.locator("#past-nodes")
    expect(warning).to_be_visible()
    past_rows = page.locator("tr.is-past")
    past = past_rows.count()
    assert past >= 5
    screenshot(page, f"wizard-past-nodes-{language}")

    # All of them done, but the first left out and the second kept with a new date.
    page.locator("#past-all").select_option("done")
    page.get_by_role("button", name="应用" if zh else "Apply", exact=True).click()
    expect(page.locator("tr.is-past select").first).to_have_value("done")
    selects = past_rows.locator("select")
    skipped, kept = (selects.nth(i).get_attribute("name").removeprefix("past-") for i in (0, 1))
    selects.nth(0).select_option("skip")
    selects.nth(1).select_option("reschedule")
    page.locator(".actions button[name=create]").last.click()
    page.wait_for_url("**/projects/*/")  # the new project's board
    project = Project.objects.get()
    nodes = {node.template_key: node for node in project.milestones.all()}
    assert skipped not in nodes and nodes[kept].due_at > timezone.now()
    done = [node for node in nodes.values() if node.status == MilestoneStatus.DONE]
    assert len(done) == past - 2
    assert not project.milestones.open().overdue(timezone.now()).exists()

    # A D-day in the past: refused, with the way past campaigns come in.
    page.goto("/projects/new/")
    page.locator("#id_name").fill("Double 11 2020")
    page.locator("#id_kind").select_option("campaign")
    page.locator("#id_d_day").fill(local(-400))
    page.get_by_role("button", name="创建项目" if zh else "Create project").first.click()
    with translation.override(language):
        refusal = gettext(
            "The D-day has passed: plan a coming one here. Staff bring past campaigns in with "
            "the historical import."
        )
    expect(page.locator(".errorlist")).to_contain_text(refusal)
    assert Project.objects.count() == 1
    assert errors == []
