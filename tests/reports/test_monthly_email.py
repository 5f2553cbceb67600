"""The emailed monthly report, received by a real SMTP server (aiosmtpd): multipart/related
with its four charts as inline PNGs named by the HTML's cid: references (with alt text), the
same figures as tables and as text, and the chat channels' summary with the top reasons.
The campaigns are those of conftest.py (docs/monthly-analysis.md works their figures)."""

import re
from html.parser import HTMLParser

import pytest
import time_machine

from tests.alerts.support import SmtpServer
from tests.factories import UserFactory
from tests.reports.conftest import AS_OF
from tracker.notifications.models import Channel, OutboxMessage
from tracker.notifications.outbox import outbox_flush
from tracker.reports.periods import parse_month
from tracker.reports.services import report_publish

pytestmark = pytest.mark.django_db
NOVEMBER = parse_month("2026-11")
CHARTS = ("trend-12-months", "weekly-trend", "reason-pareto", "lateness-distribution")


@pytest.fixture(scope="module")
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings) -> SmtpServer:
    return smtp_server.use(settings)


class Images(HTMLParser):
    """Every <img> of an HTML body: its src and alt."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def images_of(html: str) -> list[dict[str, str]]:
    parser = Images()
    parser.feed(html)
    return parser.images


def send_monthly(campaigns, settings, *, lead_language: str = "zh-hans"):
    """November's monthly report of record, sent to the owner (English) and, through the
    supply department's lead, in `lead_language`; returns what the SMTP server received."""
    settings.SITE_URL = "https://milepost.example.com"
    supply = campaigns.departments["supply"]
    supply.lead = UserFactory(username="li", email="li@example.com", language=lead_language)
    supply.save(update_fields=["lead"])
    with time_machine.travel(AS_OF, tick=False):
        report_publish(period=NOVEMBER, as_of=AS_OF)
        outbox_flush(budget_seconds=60)


def test_the_monthly_email_is_multipart_related_with_inline_charts(smtp, campaigns, settings):
    send_monthly(campaigns, settings)
    (received,) = smtp.handler.to("owner@example.com")
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert [image.get_content_type() for image in images] == ["image/png"] * 4
    cids = [image["Content-ID"] for image in images]
    assert cids == [f"<{cid}>" for cid in CHARTS]
    for image in images:
        assert image.get_content_disposition() == "inline"
        png = image.get_content()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and 1_000 < len(png) < 40_000

    html = html_part.get_content()
    shown = images_of(html)
    assert [img["src"] for img in shown] == [f"cid:{cid}" for cid in CHARTS]
    alts = {img["src"][4:]: img["alt"] for img in shown}
    assert alts["trend-12-months"].startswith("Deviation rate, last 12 months: 2025-12 25.0%, ")
    assert "2026-10 25.0%, 2026-11 83.3%." in alts["trend-12-months"]
    assert alts["reason-pareto"].startswith(
        "Deviated nodes by reason (Pareto): Supplier or stock delay 2 (cumulative 40.0%), "
    )
    assert "Supply: On time" not in alts["lateness-distribution"]  # no on-time supply node
    assert "Design: " in alts["lateness-distribution"]
    # The figures as tables, section by section.
    for heading in (
        "12-month trend",
        "Weekly trend",
        "Who slipped",
        "Reasons (Pareto)",
        "Lateness by department",
        "Repeat offenders",
        "Re-plans and promises kept",
    ):
        assert f">{heading}</h2>" in html
    assert "vs 2026-10: +58.3 pts (was 25.0%) · vs 2025-11 last year: +33.3 pts (was 50.0%)" in html
    assert re.search(r"<td>Supply</td><td[^>]*>2</td><td[^>]*>9\.0</td>", html)  # 2 late, 9 own
    assert "Late in 2 of the last 3 campaigns of Double X: Double 12 2025, Double 11" in html
    assert "Late in 2 of the last 3 campaigns of Double X: 618, Double 11" in html
    assert len(received.raw) < 100_000  # the whole email, as it came over the wire

    text = plain.get_content()
    assert "vs 2026-10: +58.3 pts (was 25.0%)" in text
    assert "Supplier or stock delay: 2 (40.0%, cumulative 40.0%)" in text
    assert "Unspecified: 1 (20.0%, cumulative 100.0%)" in text
    assert "2026-11: 83.3% (6 due)" in text
    assert "Supply: 1 nodes re-planned 1 times; 1 of 1 promises kept (100.0%)" in text
    assert "All departments: 1 of 3 promises kept (33.3%)" in text


def test_each_recipient_reads_the_charts_in_their_language(smtp, campaigns, settings):
    send_monthly(campaigns, settings)
    (received,) = smtp.handler.to("li@example.com")
    html = received.message.get_body(preferencelist=("html",)).get_content()
    alts = {img["src"][4:]: img["alt"] for img in images_of(html)}
    assert alts["reason-pareto"].startswith("按原因统计的偏差节点（帕累托）：供应商或库存延误 2")
    assert "未注明" in html and "谁延误了" in html
    english = smtp.handler.to("owner@example.com")[0].message
    chinese_png = {
        part["Content-ID"]: part.get_content()
        for part in received.message.walk()
        if part.get_content_type() == "image/png"
    }
    english_png = {
        part["Content-ID"]: part.get_content()
        for part in english.walk()
        if part.get_content_type() == "image/png"
    }
    assert chinese_png.keys() == english_png.keys()
    assert chinese_png["<reason-pareto>"] != english_png["<reason-pareto>"]  # drawn in Chinese


def test_a_weekly_email_has_no_images(smtp, campaigns, settings):
    with time_machine.travel(AS_OF, tick=False):
        report_publish(period=parse_month("2026-11").previous(), as_of=AS_OF)  # October
        outbox_flush(budget_seconds=60)
    for received in smtp.handler.received:
        assert not [p for p in received.message.walk() if p.get_content_maintype() == "image"]


def test_chat_channels_get_the_headline_top_three_reasons_and_a_link(campaigns, settings):
    settings.SITE_URL = "https://milepost.example.com"
    Channel.objects.create(
        name="Ops room",
        kind="slack",
        url="https://hooks.example.com/ops",
        events=["monthly_report"],
        language="en",
    )
    Channel.objects.create(
        name="运营群",
        kind="feishu",
        url="https://open.feishu.cn/open-apis/bot/v2/hook/x",
        events=["monthly_report"],
        language="zh-hans",
    )
    with time_machine.travel(AS_OF, tick=False):
        report_publish(period=NOVEMBER, as_of=AS_OF, email=False)
    english, chinese = (
        OutboxMessage.objects.get(channel__name=name).payload for name in ("Ops room", "运营群")
    )
    assert english["title"] == "Monthly report 2026-11: 83.3% of nodes deviated (above threshold)"
    assert english["summary"].splitlines()[1:] == [
        "vs 2026-10: +58.3 pts (was 25.0%)",
        "vs 2025-11 last year: +33.3 pts (was 50.0%)",
        "Top reasons: Supplier or stock delay 2 (40.0%), Resource shortage 1 (20.0%), "
        "Upstream node late 1 (20.0%)",
    ]
    assert english["url"] == "https://milepost.example.com/reports/monthly/?period=2026-11"
    assert (
        "主要原因：供应商或库存延误 2（40.0%）、资源不足 1（20.0%）、上游节点延误 1（20.0%）"
        in (chinese["summary"])
    )


def test_the_email_names_departments_not_their_codes(smtp, campaigns, settings):
    send_monthly(campaigns, settings)
    (received,) = smtp.handler.to("owner@example.com")
    html = received.message.get_body(preferencelist=("html",)).get_content()
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    slips = html.split(">Worst slips</h2>")[1]
    text_slips = text.split("Worst slips")[1]
    for department in campaigns.departments.values():
        assert f"· {department.code}<" not in slips and f"· {department.code}:" not in text_slips
    assert re.search(r"· (Supply|Design|Operations)</div>", slips)
    assert re.search(r" · (Supply|Design|Operations): ", text_slips)
