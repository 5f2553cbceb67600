"""Every page on a 390 px phone screen in real Chromium: nothing scrolls sideways, the board
shows one lane at a time, the projects table turns into cards, the timeline stays legible."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import DepartmentFactory, UserFactory
from tracker.milestones.models import MilestoneStatus
from tracker.projects.models import ProjectTemplate
from tracker.projects.services import project_create, template_load_shipped

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DEPARTMENTS = {
    "cs": "Customer service",
    "design": "Design",
    "marketing": "Marketing",
    "merch": "Merchandising",
    "ops": "Operations",
    "supply": "Supply chain",
    "tech": "Tech",
}
# Elements reaching past the screen's right edge, except inside a frame that scrolls (a wide
# chart scrolls in its own frame; the page itself must not).
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const framed = (el) => {
        for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            if (["auto", "scroll", "hidden"].includes(getComputedStyle(p).overflowX)) return true;
        }
        return false;
    };
    const wide = [...document.querySelectorAll("body *")].filter((el) => {
        const box = el.getBoundingClientRect();
        return box.width && box.right > width + 1 && !framed(el);
    }).slice(0, 5).map((el) => el.tagName + "." + (el.getAttribute("class") || ""));
    return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


@pytest.fixture
def campaign(db):
    template_load_shipped()
    for code, name in DEPARTMENTS.items():
        DepartmentFactory(code=code, name=name, lead=UserFactory(username=f"{code}-lead"))
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin", is_staff=True)
    project = project_create(
        actor=owner,
        name="Double 11 大促 2026",
        kind="campaign",
        d_day=timezone.now() + timedelta(days=60),
        owner=owner,
        template=ProjectTemplate.objects.get(code="sale-campaign"),
        status="active",
    )
    first = project.milestones.order_by("due_at").first()
    first.status = MilestoneStatus.IN_PROGRESS
    first.save()
    return owner, project, first


def pages(project, node) -> list[str]:
    return [
        "/",
        "/projects/",
        "/projects/new/",
        f"/projects/{project.pk}/",
        f"/projects/{project.pk}/list/",
        f"/projects/{project.pk}/timeline/",
        f"/projects/{project.pk}/settings/",
        f"/projects/{project.pk}/baseline/",
        f"/projects/{project.pk}/audit/",
        f"/integrations/projects/{project.pk}/import/",
        "/integrations/history/import/",
        f"/nodes/{node.pk}/",
        "/reports/weekly/",
        "/reports/monthly/",
        "/settings/",
        "/inbox/",
        "/templates/",
        "/templates/new/",
        f"/templates/{project.template_id}/",
        "/integrations/channels/",
        "/integrations/channels/new/",
        "/integrations/chat/accounts/",
        "/integrations/calendar/",
    ]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_no_page_scrolls_sideways_on_a_phone(campaign, open_context, screenshot, language):
    owner, project, node = campaign
    owner.language = language
    owner.save(update_fields=["language"])
    page = open_context(owner, **PHONE).new_page()
    problems = {}
    for path in pages(project, node):
        response = page.goto(path)
        assert response.status == 200, path
        measured = page.evaluate(OVERFLOW)
        if measured["scroll"] > measured["width"] or measured["wide"]:
            problems[path] = measured
    assert not problems, "\n".join(f"{p}: {m}" for p, m in problems.items())
    page.goto(f"/projects/{project.pk}/")
    screenshot(page, f"mobile-board-{language}", full_page=False)


def test_signed_out_pages_fit_a_phone(open_context):
    page = open_context(**PHONE).new_page()
    page.goto("/accounts/login/")
    measured = page.evaluate(OVERFLOW)
    assert measured["scroll"] <= measured["width"] and not measured["wide"], measured


def test_the_board_shows_one_lane_and_one_status_at_a_time(campaign, open_context):
    owner, project, node = campaign
    page = open_context(owner, **PHONE).new_page()
    page.goto(f"/projects/{project.pk}/")

    visible_lanes = page.locator(".lane:visible")
    expect(visible_lanes).to_have_count(1)
    expect(page.locator(".column:visible")).to_have_count(1)
    expect(page.locator(".column:visible")).to_have_attribute("data-status", "todo")
    card = page.locator(".card:visible").first
    assert card.bounding_box()["width"] > 300  # full width

    page.get_by_label("Lane", exact=True).select_option(f"lane-{node.department_id}")
    page.get_by_role("tab", name="In progress").click()
    expect(page.locator(".column:visible")).to_have_attribute("data-status", "in_progress")
    expect(page.locator(f"#card-{node.pk}")).to_be_visible()


def test_the_projects_table_becomes_cards_and_the_timeline_stays_legible(campaign, open_context):
    owner, project, _node = campaign
    page = open_context(owner, **PHONE).new_page()
    page.goto("/projects/")
    expect(page.locator("table.data thead")).to_be_hidden()
    row = page.locator("table.data tbody tr").first
    assert row.bounding_box()["width"] <= PHONE["width"]
    expect(row.locator("td").first).to_contain_text(project.name)

    page.goto(f"/projects/{project.pk}/timeline/")
    sizes = page.evaluate(
        """() => [...document.querySelectorAll("svg.timeline text")].map((t) => {
            const svg = t.ownerSVGElement;
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            return parseFloat(getComputedStyle(t).fontSize) * scale;
        })"""
    )
    assert sizes and min(sizes) >= 11, min(sizes)
