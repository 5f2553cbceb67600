"""The lateness episode over REST: acknowledge with a promise (in the documented order of
answers) and the episodes of a node, in a constant number of queries."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.alerts.support import make_team
from tests.factories import UserFactory
from tracker.alerts.models import SnoozeVia
from tracker.alerts.services import alerts_scan
from tracker.alerts.snoozing import alert_snooze
from tracker.milestones.models import LatenessEpisode, Promise
from tracker.milestones.services import deviation_reasons_install

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def team(settings):
    settings.ALERTS_AT_ANY_HOUR = True
    deviation_reasons_install()
    return make_team()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def late(team, hours: int = 2):
    node = team.node(timezone.now() - hours * H)
    alerts_scan(now=timezone.now())
    return node


def body(hours: int = 24, **extra) -> dict:
    return {
        "promised_at": (timezone.now() + hours * H).isoformat(),
        "reason_code": "supplier",
        "note": "Stock arrives Wednesday",
        **extra,
    }


def test_the_assignee_acknowledges_with_a_promise(team):
    node = late(team)
    response = client_for(team.assignee).post(
        f"/api/v1/milestones/{node.pk}/acknowledge/", body(), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["outcome"] == "pending"
    episode = LatenessEpisode.objects.get(milestone=node)
    assert episode.promised_at == Promise.objects.get().promised_at
    node.refresh_from_db()
    assert node.version == 1  # the node itself is not written


@pytest.mark.parametrize(
    ("who", "is_late", "payload", "status", "field"),
    [
        ("stranger", True, {"promised_at": "soon"}, 403, None),  # 403 before the body
        ("owner", True, {}, 403, None),  # the owner is told, not the one to promise
        ("assignee", False, {"promised_at": "soon"}, 409, None),  # not late: before the body
        ("assignee", True, {"promised_at": "soon"}, 400, "promised_at"),
        ("assignee", True, {"reason_code": "nonsense"}, 400, "reason_code"),
        ("lead", True, {"hours": -1}, 400, "promised_at"),  # in the past
        ("lead", True, {"reason_code": "other", "note": ""}, 400, "note"),
    ],
)
def test_order_of_answers(team, who, is_late, payload, status, field):
    node = late(team) if is_late else team.node(timezone.now() + 5 * H)
    user = {
        "stranger": UserFactory(),
        "owner": team.owner,
        "assignee": team.assignee,
        "lead": team.lead,
    }[who]
    hours = payload.pop("hours", 24)
    data = {**body(hours), **payload}
    response = client_for(user).post(
        f"/api/v1/milestones/{node.pk}/acknowledge/", data, format="json"
    )
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()
    assert not Promise.objects.exists()


def test_unknown_node_is_404(team):
    response = client_for(team.assignee).post("/api/v1/milestones/999999/acknowledge/", body())
    assert response.status_code == 404


def test_episodes_list_rungs_promises_and_snoozes_in_constant_queries(team):
    node = late(team, hours=60)  # the lead's rung at once (48 working hours, at any hour)
    client = client_for(team.assignee)
    client.post(f"/api/v1/milestones/{node.pk}/acknowledge/", body(), format="json")
    alert_snooze(
        actor=team.assignee, milestone_id=node.pk, until=timezone.now() + H, via=SnoozeVia.API
    )

    def read():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/milestones/{node.pk}/episodes/")
        assert response.status_code == 200
        return response.json(), len(queries)

    data, first = read()
    (episode,) = data["results"]
    assert [r["kind"] for r in episode["rungs"]] == ["escalation", "overdue"]
    assert episode["ended_at"] is None and episode["rung"] == 2
    assert [p["reason_code"] for p in episode["promises"]] == ["supplier"]
    assert [s["via"] for s in episode["snoozes"]] == ["api"]

    # Ended, and a second episode after re-opening: no more queries.
    from tracker.milestones.models import Milestone

    Milestone.objects.filter(pk=node.pk).update(status="done", completed_at=timezone.now())
    alerts_scan(now=timezone.now())
    Milestone.objects.filter(pk=node.pk).update(
        status="todo", completed_at=None, updated_at=timezone.now()
    )
    with time_machine.travel(timezone.now() + H, tick=False):
        alerts_scan(now=timezone.now())
    data, second = read()
    assert len(data["results"]) == 2 and data["results"][1]["ended_at"]
    assert second == first
