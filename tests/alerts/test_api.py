"""/api/v1/alerts/: read-only, filterable, in a constant number of queries."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_token
from tracker.alerts.models import Alert
from tracker.alerts.services import alerts_scan
from tracker.milestones.services import milestone_update

NOW = datetime(2026, 11, 2, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
H = timedelta(hours=1)
URL = "/api/v1/alerts/"


@pytest.fixture
def alerts(team):
    late = team.node(NOW - 2 * H)
    done = team.node(NOW - 60 * H)
    soon = team.node(NOW + H)
    alerts_scan(now=NOW)
    milestone_update(milestone_id=done.pk, actor=team.lead, data={"status": "done"}, now=NOW)
    alerts_scan(now=NOW + H)
    return {"late": late, "done": done, "soon": soon}


@pytest.fixture
def client(api_client, team):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(team.assignee, 'read')}")
    return api_client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_needs_a_signed_in_user(api_client, alerts):
    assert api_client.get(URL).status_code in (401, 403)


def test_fields(client, alerts):
    late = alerts["late"]
    row = next(r for r in client.get(URL).json()["results"] if r["milestone"] == late.pk)
    alert = Alert.objects.get(milestone=late)
    assert row == {
        "id": alert.pk,
        "milestone": late.pk,
        "project": late.project_id,
        "kind": "overdue",
        "due_at": "2026-11-02T16:00:00+08:00",
        "created_at": "2026-11-02T18:00:00+08:00",
        "resolved_at": None,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", Alert.objects.all),
        ("?open=true", lambda: Alert.objects.filter(resolved_at__isnull=True)),
        ("?open=false", lambda: Alert.objects.filter(resolved_at__isnull=False)),
        ("?kind=resolved", lambda: Alert.objects.filter(kind="resolved")),
        (
            "?kind=overdue&kind=escalation",
            lambda: Alert.objects.filter(kind__in=["overdue", "escalation"]),
        ),
    ],
)
def test_filters(client, alerts, query, expected):
    assert ids(client.get(URL + query)) == set(expected().values_list("pk", flat=True))


def test_filter_by_node_and_project(client, alerts, team):
    done = alerts["done"]
    assert ids(client.get(f"{URL}?milestone={done.pk}")) == set(
        Alert.objects.filter(milestone=done).values_list("pk", flat=True)
    )
    assert len(ids(client.get(f"{URL}?milestone={done.pk}"))) == 3  # overdue, escalation, resolved
    assert ids(client.get(f"{URL}?project={team.project.pk}")) == set(
        Alert.objects.values_list("pk", flat=True)
    )
    assert ids(client.get(f"{URL}?project={team.project.pk + 1000}")) == set()


@pytest.mark.parametrize("query", ["?open=maybe", "?kind=late", "?project=abc", "?milestone=1.5"])
def test_bad_filters_are_400(client, alerts, query):
    response = client.get(URL + query)
    assert response.status_code == 400
    assert set(response.json()) <= {"open", "kind", "project", "milestone"}


def test_read_only(client, alerts, team):
    write = make_token(team.owner, "write")
    client.credentials(HTTP_AUTHORIZATION=f"Token {write}")
    alert = Alert.objects.first()
    assert client.post(URL, {"milestone": alert.milestone_id}).status_code == 405
    assert client.patch(f"{URL}{alert.pk}/", {"resolved_at": None}).status_code == 405
    assert client.delete(f"{URL}{alert.pk}/").status_code == 405
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_list_in_constant_queries(client, team):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL).status_code == 200
        return len(queries)

    team.node(NOW - H)
    alerts_scan(now=NOW)
    count()  # the token's first use is recorded once
    few = count()
    for i in range(15):
        team.node(NOW - (i + 2) * H)
    alerts_scan(now=NOW + H)
    assert Alert.objects.count() == 16
    assert count() == few
