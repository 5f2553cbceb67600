"""Real headless Chromium (Debian's package) driven by Playwright against pytest-django's live
server. Each test gets its own browser (a launch costs about half a second) and opens the
contexts (users) it needs."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    """Chromium for one test.

    While Playwright's sync API is started it keeps an asyncio loop running in this thread, and
    Django refuses ORM calls under a running loop. The test's own ORM calls are plain synchronous
    code (the live server works in its own thread), so the check is relaxed for this test only,
    and Playwright stops before the next test: a session-wide browser would leave every later
    test under that loop, and the variable would leak into subprocesses such as `check --deploy`.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_context(browser, live_server):
    """open_context(user=None) → a fresh browser context (signed in as `user` when given)."""
    contexts = []

    def make(user=None, *, width: int = 1366, height: int = 900):
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            locale="en-US",
            timezone_id=settings.TIME_ZONE,
        )
        context.set_default_timeout(10_000)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": live_server.url,
                    }
                ]
            )
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, name, full_page=True): a PNG under test-artifacts/ for review."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
