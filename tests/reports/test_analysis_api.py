"""The monthly analysis as the API, the web page and the exports show it: the same object."""

import csv
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from tests.factories import BaselinedProjectFactory, MilestoneFactory, UserFactory
from tests.reports.conftest import AS_OF, at
from tracker.reports.analysis import monthly_analysis
from tracker.reports.api.serializers import AnalysisSerializer
from tracker.reports.periods import parse_month

pytestmark = pytest.mark.django_db
NOVEMBER = parse_month("2026-11")


@pytest.fixture
def reader(client):
    client.force_login(UserFactory())
    return client


@pytest.fixture
def frozen():
    with time_machine.travel(AS_OF, tick=False):
        yield


def test_api_carries_the_analysis(campaigns, api_client, frozen):
    api_client.force_login(UserFactory())
    body = api_client.get("/api/v1/reports/monthly/", {"month": "2026-11"}).json()
    expected = AnalysisSerializer(monthly_analysis(NOVEMBER, AS_OF)).data
    assert body["analysis"] == expected
    assert set(body["analysis"]) == {
        "month",
        "comparisons",
        "attribution",
        "pareto",
        "distribution",
        "repeat_offenders",
        "churn",
        "trend_12_months",
    }
    assert body["analysis"]["comparisons"]["previous_month"]["rate_change"] == 0.5833
    assert body["analysis"]["repeat_offenders"][1]["late_in"] == ["618", "Double 11"]


def test_api_defaults_to_the_last_complete_month(campaigns, api_client, frozen):
    api_client.force_login(UserFactory())
    body = api_client.get("/api/v1/reports/monthly/").json()
    assert body["analysis"]["month"] == "2026-11"


def test_api_scope_narrows_the_analysis(campaigns, api_client, frozen):
    api_client.force_login(UserFactory())
    body = api_client.get("/api/v1/reports/monthly/", {"month": "2026-11", "department": "supply"})
    analysis = body.json()["analysis"]
    assert [row["name"] for row in analysis["attribution"]["departments"]] == ["Supply"]
    assert [row["reason_code"] for row in analysis["pareto"]] == ["supplier"]


def test_schema_declares_the_analysis(api_client):
    schema = api_client.get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    ).json()
    components = schema["components"]["schemas"]
    report = components["MonthlyReport"]
    assert report["properties"]["analysis"] == {"$ref": "#/components/schemas/Analysis"}
    assert "analysis" in report["required"]
    analysis = components["Analysis"]
    assert set(analysis["required"]) >= {"comparisons", "pareto", "churn", "trend_12_months"}
    comparisons = components["Comparisons"]["properties"]
    assert comparisons["same_month_last_year"].get("nullable") or any(
        "nullable" in part or part.get("type") == "null"
        for part in comparisons["same_month_last_year"].get("oneOf", [])
        + comparisons["same_month_last_year"].get("allOf", [])
    )


def test_page_renders_the_analysis(campaigns, reader, frozen):
    page = reader.get("/reports/monthly/", {"period": "2026-11"})
    assert page.status_code == 200
    html = page.content.decode()
    for marker in (
        "data-analysis-comparisons",
        "data-analysis-attribution",
        "data-analysis-pareto",
        "data-analysis-distribution",
        "data-analysis-repeat",
        "data-analysis-churn",
        "data-analysis-trend",
    ):
        assert marker in html, marker
    assert html.count('<svg class="pareto"') == 1
    assert html.count('<svg class="month-trend"') == 1
    assert "Stock ready" in html and "618, Double 11" in html
    assert "+58.3" in html  # the rate against the previous month, in points


def test_page_in_chinese(campaigns, client, frozen):
    client.force_login(UserFactory(language="zh-hans"))
    page = client.get("/reports/monthly/", {"period": "2026-11"})
    html = page.content.decode()
    assert "重复延误" in html
    assert "供应商或库存延误" in html  # the reason's Chinese name


def _page_queries(reader) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert reader.get("/reports/monthly/", {"period": "2026-11"}).status_code == 200
    return len(captured)


def test_page_queries_do_not_grow(campaigns, reader, frozen):
    _page_queries(reader)
    before = _page_queries(reader)
    _more_campaigns(campaigns)
    assert _page_queries(reader) == before


def _more_campaigns(campaigns) -> None:
    """Eight more campaigns of the template, with a node of each department in November."""
    for index in range(8):
        project = BaselinedProjectFactory(
            owner=campaigns.owner, template=campaigns.template, d_day=at(2025, 1, 1), war_room=False
        )
        for department in campaigns.departments.values():
            MilestoneFactory(
                project=project,
                department=department,
                template_key="banner",
                due_at=at(2026, 11, 2 + index),
            )


def _api_queries(api_client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get("/api/v1/reports/monthly/", {"month": "2026-11"})
        assert response.status_code == 200
    return len(captured)


def test_api_queries_do_not_grow(campaigns, api_client, frozen):
    api_client.force_login(UserFactory())
    _api_queries(api_client)
    before = _api_queries(api_client)
    _more_campaigns(campaigns)
    assert _api_queries(api_client) == before


@pytest.mark.parametrize(
    ("table", "header", "first"),
    [
        ("comparisons", ["comparison", "month", "deviation_rate"], ["month", "2026-11"]),
        ("attribution", ["level", "id", "name", "late_count"], ["department"]),
        ("pareto", ["reason_code", "name", "deviated_count"], ["supplier"]),
        ("distribution", ["department_id", "name", "on_time"], []),
        ("repeat_offenders", ["template_id", "template_name", "template_key"], []),
        ("churn", ["department_id", "name", "replanned_nodes"], []),
        ("months", ["month", "deviation_rate", "due_count"], ["2025-12"]),
    ],
)
def test_csv_export(campaigns, reader, frozen, table, header, first):
    response = reader.get(f"/integrations/reports/monthly/2026-11/{table}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][: len(header)] == header
    assert rows[1][: len(first)] == first
    assert len(rows) > 1


def test_xlsx_export_of_the_pareto(campaigns, reader, frozen):
    response = reader.get("/integrations/reports/monthly/2026-11/pareto.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[1][:3] == ["supplier", "Supplier or stock delay", 2]
    assert rows[-1][0] == "unspecified"


def test_analysis_tables_are_monthly_only(reader):
    response = reader.get("/integrations/reports/weekly/2026-W47/pareto.csv")
    assert response.status_code == 400
    assert "monthly" in response.content.decode()
