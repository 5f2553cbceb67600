"""The monthly report's analysis in real Chromium: every section drawn, in English and Chinese,
on a desktop and on a phone (nothing scrolls sideways; wide charts scroll in their frame)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_mobile import OVERFLOW, PHONE
from tests.factories import UserFactory
from tests.reports.conftest import build_campaigns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_monthly_analysis_page(open_context, screenshot, language):
    owner = UserFactory(username="mei", is_staff=True, language=language)
    build_campaigns(owner)
    page = open_context(owner).new_page()
    page.goto("/reports/monthly/?period=2026-11")
    for section in ("comparisons", "attribution", "pareto", "distribution", "repeat", "churn"):
        expect(page.locator(f"[data-analysis-{section}]")).to_be_visible()
    expect(page.locator("svg.pareto rect.pa-bar")).to_have_count(4)
    expect(page.locator("svg.distribution rect")).to_have_count(12)  # 6 segments + 6 totals
    expect(page.locator("svg.month-trend .tr-point")).to_have_count(4)
    repeat = page.locator("[data-analysis-repeat] tbody tr")
    expect(repeat).to_have_count(2)
    expect(repeat.first).to_contain_text("Double 12 2025, Double 11")
    suffix = "" if language == "en" else f"-{language}"
    screenshot(page, f"report-monthly{suffix}")

    phone = open_context(owner, **PHONE).new_page()
    phone.goto("/reports/monthly/?period=2026-11")
    measured = phone.evaluate(OVERFLOW)
    assert measured["scroll"] <= measured["width"] and not measured["wide"], measured
