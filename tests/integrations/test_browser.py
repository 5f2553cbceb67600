"""The issue's "done when", in real Chromium: a project owner connects a Feishu group in the
browser, presses "Send test message" and sees the platform's answer; the loopback platform
received one correctly signed card."""

import pytest
from playwright.sync_api import expect

from tests.factories import ProjectFactory, UserFactory
from tests.integrations.conftest import PATHS
from tracker.notifications.models import Channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_connects_a_feishu_group_and_sends_a_test_message(
    open_context, screenshot, chat_server
):
    owner = UserFactory(username="mei")
    ProjectFactory(owner=owner, name="Double 11 2026")
    page = open_context(owner).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto("/")
    page.get_by_role("link", name="Channels").click()
    page.get_by_role("link", name="Connect a group").first.click()
    page.get_by_label("Name").fill("Double 11 war room")
    page.get_by_label("Platform").select_option(label="Feishu / Lark")
    page.get_by_label("Webhook URL").fill(chat_server.url(PATHS["feishu"]))
    page.get_by_label("Secret").fill("feishu-secret")
    page.get_by_label("Project").select_option(label="Double 11 2026")
    page.get_by_label("Overdue", exact=True).check()
    page.get_by_label("Weekly report").check()
    screenshot(page, "integrations-channel-form")
    page.get_by_role("button", name="Save").click()

    row = page.locator("tr", has_text="Double 11 war room")
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("t0ken")
    chat_server.secrets[PATHS["feishu"]] = "feishu-secret"
    row.get_by_role("button", name="Send test message").click()
    expect(row.locator(".test-result")).to_contain_text("Sent.")
    expect(row.locator(".test-result")).to_contain_text('"code": 0')
    screenshot(page, "integrations-channel-test")

    [request] = chat_server.received("feishu")
    assert request.verified is True
    assert request.json["card"]["header"]["title"]["content"] == "Milepost test message"
    channel = Channel.objects.get()
    assert channel.secret == "feishu-secret" and channel.events == [
        "overdue",
        "escalation",
        "weekly_report",
    ]
    assert errors == []
