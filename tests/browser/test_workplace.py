"""The lead's everyday work in real Chromium, in English and Chinese: the inbox behind the bell,
comments with @mentions in the node side panel, and the project settings page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.notifications.inbox import inbox_notify
from tracker.notifications.models import InboxItem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "zh-hans"]


def watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def team():
    """A project owner (Mei Lin), a department lead (Wei Chen) and a node of his department."""
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin")
    lead = UserFactory(username="wchen", first_name="Wei", last_name="Chen")
    merch = DepartmentFactory(code="merch", name="Merchandising", lead=lead)
    project = ProjectFactory(owner=owner, name="Double 11 大促", status="active")
    node = MilestoneFactory(
        project=project,
        department=merch,
        assignee=lead,
        title="Price approval",
        due_at=timezone.now() + timedelta(days=3),
    )
    other = MilestoneFactory(project=project, department=merch, title="Banner copy")
    return owner, lead, project, node, other


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_bell_counts_and_the_inbox_opens_the_node_and_marks_it_read(
    team, open_context, screenshot, language
):
    owner, lead, _project, node, other = team
    lead.language = language
    lead.save(update_fields=["language"])
    inbox_notify(recipients=[lead], kind="overdue", milestone=other)
    inbox_notify(
        recipients=[lead], kind="mention", milestone=node, actor=owner, text="@wchen please check"
    )
    page = open_context(lead).new_page()
    errors = watch(page)
    page.goto("/")
    bell = page.locator("#inbox-bell")
    expect(bell.locator(".bell-count")).to_have_attribute("data-unread", "2")
    bell.click()
    expect(page).to_have_url("/inbox/")
    items = page.locator(".inbox-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Mei Lin")
    expect(items.first).not_to_contain_text("mei ")
    expect(page.locator(".inbox-item.is-unread")).to_have_count(2)
    screenshot(page, f"inbox-{language}", full_page=False)

    items.first.get_by_role("link", name="Price approval").click()
    panel = page.locator("dialog#side-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading", name="Price approval")).to_be_visible()
    expect(page).to_have_url("/inbox/")  # still on the inbox
    expect(bell.locator(".bell-count")).to_have_attribute("data-unread", "1")
    expect(page.locator(".inbox-item.is-unread")).to_have_count(1)
    assert InboxItem.objects.get(milestone=node).read_at is not None
    page.keyboard.press("Escape")

    mark_all = "Mark all read" if language == "en" else "全部标为已读"
    page.get_by_role("button", name=mark_all).click()
    expect(page.locator(".inbox-item.is-unread")).to_have_count(0)
    expect(bell.locator(".bell-count")).to_have_count(0)
    assert errors == []
