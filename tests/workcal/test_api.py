"""The working calendar over REST: listing a year, overrides (staff only), the working-day check."""

from datetime import date

import pytest

from tests.factories import UserFactory, make_token
from tracker.accounts.models import TokenScope
from tracker.workcal.models import CalendarOverride

pytestmark = pytest.mark.django_db

# 2026 (pinned holidays==0.108): weekdays off and weekend days worked.
HOLIDAYS_2026 = {
    "2026-01-01", "2026-01-02",
    "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
    "2026-04-06",
    "2026-05-01", "2026-05-04", "2026-05-05",
    "2026-06-19",
    "2026-09-25",
    "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07",
}  # fmt: skip
WORKDAYS_2026 = {
    "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
}  # fmt: skip


@pytest.fixture
def member_client(api_client):
    api_client.force_login(UserFactory(username="member"))
    return api_client


@pytest.fixture
def staff_client(api_client, staff):
    api_client.force_login(staff)
    return api_client


def test_year_lists_every_non_standard_day(member_client):
    body = member_client.get("/api/v1/calendar/?year=2026").json()
    assert body["year"] == 2026 and body["schedule"] == "library"
    days = {d["date"]: d for d in body["results"]}
    assert {d for d, v in days.items() if v["kind"] == "holiday"} == HOLIDAYS_2026
    assert {d for d, v in days.items() if v["kind"] == "workday"} == WORKDAYS_2026
    assert {d["source"] for d in body["results"]} == {"library"}
    assert days["2026-10-01"]["name"] == "National Day"
    assert "2026-10-03" not in days  # a Saturday off is a standard day
    assert [d["date"] for d in body["results"]] == sorted(days)


def test_year_names_follow_the_language(api_client):
    api_client.force_login(UserFactory(language="zh-hans"))
    body = api_client.get("/api/v1/calendar/?year=2026").json()
    names = {d["date"]: d["name"] for d in body["results"]}
    assert names["2026-10-01"] == "国庆节"


@pytest.mark.parametrize("query", ["?year=abc", "?year=20266", "?year=1900"])
def test_bad_year_is_a_400_naming_the_field(member_client, query):
    response = member_client.get(f"/api/v1/calendar/{query}")
    assert response.status_code == 400 and "year" in response.json()


def test_staff_add_and_remove_an_override(staff_client, staff):
    response = staff_client.post(
        "/api/v1/calendar/", {"date": "2026-10-10", "kind": "holiday", "name": "Company rest day"}
    )
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "date": "2026-10-10",
        "kind": "holiday",
        "name": "Company rest day",
        "source": "override",
        "created_by": "staff",
    }
    assert CalendarOverride.objects.get(date=date(2026, 10, 10)).created_by == staff
    days = {d["date"]: d for d in staff_client.get("/api/v1/calendar/?year=2026").json()["results"]}
    assert days["2026-10-10"] == {
        "date": "2026-10-10",
        "kind": "holiday",
        "name": "Company rest day",
        "source": "override",
    }
    working = staff_client.get("/api/v1/calendar/working-day/?date=2026-10-10").json()
    assert working == {"date": "2026-10-10", "working": False, "name": "Company rest day"}

    again = staff_client.post(
        "/api/v1/calendar/", {"date": "2026-10-10", "kind": "workday", "name": "Twice"}
    )
    assert again.status_code == 409

    assert staff_client.delete("/api/v1/calendar/2026-10-10/").status_code == 204
    assert staff_client.delete("/api/v1/calendar/2026-10-10/").status_code == 404
    working = staff_client.get("/api/v1/calendar/working-day/?date=2026-10-10").json()
    assert working == {"date": "2026-10-10", "working": True, "name": "Make-up workday"}


def test_an_override_on_a_weekend_is_listed(staff_client):
    staff_client.post("/api/v1/calendar/", {"date": "2026-11-07", "kind": "workday", "name": "D11"})
    days = {d["date"]: d for d in staff_client.get("/api/v1/calendar/?year=2026").json()["results"]}
    assert days["2026-11-07"]["source"] == "override"


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"date": "2026-02-30", "kind": "holiday", "name": "x"}, {"date"}),
        ({"date": "2026-10-10", "kind": "vacation", "name": "x"}, {"kind"}),
        ({"date": "2026-10-10", "kind": "holiday"}, {"name"}),
        ({}, {"date", "kind", "name"}),
    ],
)
def test_bad_override_is_a_400_per_field(staff_client, payload, fields):
    response = staff_client.post("/api/v1/calendar/", payload)
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert not CalendarOverride.objects.exists()


def test_only_staff_change_the_calendar(member_client, api_client, staff):
    CalendarOverride.objects.create(date=date(2026, 9, 30), kind="holiday", name="Outing")
    payload = {"date": "2026-10-10", "kind": "holiday", "name": "x"}
    assert member_client.post("/api/v1/calendar/", payload).status_code == 403
    assert member_client.delete("/api/v1/calendar/2026-09-30/").status_code == 403
    key = make_token(staff, scope=TokenScope.READ)
    api_client.logout()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.post("/api/v1/calendar/", payload).status_code == 403
    assert CalendarOverride.objects.count() == 1


def test_anonymous_gets_401(api_client):
    assert api_client.get("/api/v1/calendar/?year=2026").status_code == 401


@pytest.mark.parametrize(
    ("day", "working", "name"),
    [
        ("2026-10-01", False, "National Day"),
        ("2026-10-02", False, "National Day"),
        ("2026-10-03", False, "National Day"),  # a Saturday in the break keeps its name
        ("2026-10-06", False, "Day off (substituted from 09/20/2026)"),
        ("2026-09-20", True, "Make-up workday"),
        ("2026-10-08", True, None),
        ("2026-10-11", False, None),
    ],
)
def test_working_day(member_client, day, working, name):
    response = member_client.get(f"/api/v1/calendar/working-day/?date={day}")
    assert response.json() == {"date": day, "working": working, "name": name}


@pytest.mark.parametrize("query", ["", "?date=", "?date=2026-13-01", "?date=tomorrow"])
def test_working_day_needs_a_date(member_client, query):
    response = member_client.get(f"/api/v1/calendar/working-day/{query}")
    assert response.status_code == 400 and "date" in response.json()


def test_delete_with_a_bad_date_is_a_400(staff_client):
    response = staff_client.delete("/api/v1/calendar/2026-02-30/")
    assert response.status_code == 400 and "date" in response.json()
