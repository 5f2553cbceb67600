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
    project = ProjectFactory(
        owner=owner,
        name="Double 11 大促",
        status="active",
        war_room=False,
        war_room_days_before=3,
        war_room_days_after=3,
    )
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


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_comment_with_a_mention_reaches_the_mentioned_persons_bell(
    team, open_context, screenshot, language
):
    owner, lead, project, node, _other = team
    owner.language = lead.language = language
    owner.save(update_fields=["language"])
    lead.save(update_fields=["language"])
    page = open_context(owner).new_page()
    errors = watch(page)
    page.goto(f"/projects/{project.pk}/")
    page.locator(f"#card-t-{node.pk} a").click()
    panel = page.locator("dialog#side-panel")
    expect(panel).to_be_visible()
    label = "Add a comment" if language == "en" else "添加评论"
    panel.get_by_label(label).fill(
        "@wchen please confirm the **price** <img src=x onerror=alert(1)>"
    )
    panel.get_by_role("button", name="Post comment" if language == "en" else "发表评论").click()
    thread = panel.locator(".comments .comment")
    expect(thread).to_have_count(1)
    expect(thread.first).to_contain_text("Mei Lin")
    expect(thread.first.locator(".prose strong")).to_have_text("price")
    expect(thread.first.locator("img")).to_have_count(0)  # cleaned
    expect(panel.get_by_label(label)).to_have_value("")
    expect(page).to_have_url(f"/projects/{project.pk}/")  # still on the board
    panel.locator(".comments-panel").scroll_into_view_if_needed()
    screenshot(page, f"comments-{language}", full_page=False)

    # Wei Chen sees it at once behind his bell, and opens the node from there.
    theirs = open_context(lead).new_page()
    theirs.goto("/inbox/")
    expect(theirs.locator("#inbox-bell .bell-count")).to_have_attribute("data-unread", "1")
    item = theirs.locator(".inbox-item").first
    expect(item).to_contain_text("Mei Lin")
    expect(item).to_contain_text("@wchen please confirm")
    item.get_by_role("link", name="Price approval").click()
    expect(theirs.locator("dialog#side-panel .comments .comment")).to_have_count(1)
    expect(theirs.locator("#inbox-bell .bell-count")).to_have_count(0)
    assert errors == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_owner_moves_the_d_day_with_a_preview_and_hands_the_project_over(
    team, open_context, screenshot, language
):
    owner, lead, project, node, _other = team
    owner.language = language
    owner.save(update_fields=["language"])
    zh = language == "zh-hans"
    page = open_context(owner).new_page()
    errors = watch(page)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="设置" if zh else "Settings", exact=True).last.click()
    expect(page).to_have_url(f"/projects/{project.pk}/settings/")
    later = timezone.localtime(project.d_day + timedelta(days=7))
    page.locator("#id_d_day").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="预览移动结果" if zh else "Preview the move").click()
    preview = page.locator(".reanchor-preview")
    expect(preview).to_contain_text("Price approval")
    new_due = timezone.localtime(node.due_at + timedelta(days=7)).strftime("%Y-%m-%d")
    expect(preview).to_contain_text(new_due)
    screenshot(page, f"project-settings-{language}")

    page.get_by_role("button", name="保存" if zh else "Save", exact=True).click()  # no reason
    expect(page.locator(".errorlist")).to_contain_text(
        "请说明调整上线日的原因" if zh else "Say why the D-day moves."
    )
    page.locator("#id_change_reason").fill("Supplier late")
    page.locator("#id_owner").select_option(label="Wei Chen")
    page.get_by_role("button", name="保存" if zh else "Save", exact=True).click()
    expect(page).to_have_url(f"/projects/{project.pk}/")
    project.refresh_from_db()
    node.refresh_from_db()
    assert project.owner == lead
    assert timezone.localtime(project.d_day).date() == later.date()
    assert timezone.localtime(node.due_at).strftime("%Y-%m-%d") == new_due
    assert errors == []
