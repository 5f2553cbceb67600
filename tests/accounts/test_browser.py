"""Single sign-on in real Chromium: the sign-in page's WeCom button takes the browser to the
loopback WeCom and back, signed in, with the WeCom account linked and shown on the person's
Chat accounts page."""

import pytest
from playwright.sync_api import expect

from tests.accounts.test_sso import WECOM_PERSON
from tests.factories import UserFactory
from tracker.integrations.models import ChatIdentity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_wecom_in_the_browser(open_context, screenshot, sso):
    zhang = UserFactory(
        username="zhang", first_name="San", last_name="Zhang", email="zhangsan@example.com"
    )
    sso.people["wecom"] = WECOM_PERSON
    page = open_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/accounts/login/")
    for name in ("Feishu / Lark", "DingTalk", "WeCom", "Company SSO"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    screenshot(page, "sso-sign-in")
    page.get_by_role("button", name="WeCom", exact=True).click()
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    assert ChatIdentity.objects.get(user=zhang).external_id == "zhangsan"

    page.goto("/integrations/chat/accounts/")
    expect(page.get_by_text("What Milepost keeps about your chat accounts")).to_be_visible()
    row = page.locator("tr", has_text="张三")
    expect(row).to_contain_text("137****7000")
    screenshot(page, "sso-chat-accounts")
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No chat account is linked.")).to_be_visible()
    assert not ChatIdentity.objects.filter(user=zhang).exists()
    assert errors == []
