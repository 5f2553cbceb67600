"""The emailed monthly report as a reader sees it: the HTML received by a real SMTP server
(aiosmtpd), its cid: images swapped for data: URIs (what a mail client does with the related
parts), rendered in headless Chromium and screenshotted in English and Chinese. Real mail
clients are not reachable from here (docs/integrations.md says so)."""

import base64

import pytest
import time_machine

from tests.alerts.support import SmtpServer
from tests.factories import UserFactory
from tests.reports.conftest import AS_OF, campaigns  # noqa: F401 (fixture)
from tracker.notifications.outbox import outbox_flush
from tracker.reports.periods import parse_month
from tracker.reports.services import report_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    yield server.use(settings)
    server.stop()


def inlined(message) -> str:
    """The HTML part with every cid: reference replaced by its image as a data: URI."""
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in message.walk():
        if part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_content()).decode()
            cid = part["Content-ID"].strip("<>")
            html = html.replace(f'src="cid:{cid}"', f'src="data:image/png;base64,{data}"')
    return html


@pytest.fixture
def received(smtp, campaigns):  # noqa: F811
    """November's report sent to the owner (English) and the supply lead (Chinese). Before
    the browser starts: under Playwright's loop the ORM would use another connection."""
    supply = campaigns.departments["supply"]
    supply.lead = UserFactory(username="li", email="li@example.com", language="zh-hans")
    supply.save(update_fields=["lead"])
    with time_machine.travel(AS_OF, tick=False):
        report_publish(period=parse_month("2026-11"), as_of=AS_OF)
        outbox_flush(budget_seconds=60)
    return smtp


def test_the_monthly_email_renders_with_its_charts(received, browser, screenshot):
    smtp = received
    page = browser.new_page(viewport={"width": 720, "height": 900})
    for address, language, heading in (
        ("owner@example.com", "en", "Who slipped"),
        ("li@example.com", "zh-hans", "谁延误了"),
    ):
        (received,) = smtp.handler.to(address)
        html = inlined(received.message)
        assert "cid:" not in html
        page.set_content(html, wait_until="load")
        images = page.locator("img")
        assert images.count() == 4
        for index in range(4):
            image = images.nth(index)
            assert image.get_attribute("alt")
            assert image.evaluate("img => img.complete && img.naturalWidth") == 560
        assert page.get_by_role("heading", name=heading).is_visible()
        path = screenshot(page, f"monthly-email-{language}")
        assert path.stat().st_size > 20_000
    page.close()
