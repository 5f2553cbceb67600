"""/healthz and /readyz: every check named, 200 only when all pass."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from tests.alerts.support import make_team
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.ops.services import heartbeat_record


@pytest.fixture
def broker(settings):
    """The real Redis as broker (the default file-system broker needs no server)."""
    previous = app.conf.broker_url
    app.conf.broker_url = settings.REDIS_URL
    yield
    app.conf.broker_url = previous


def test_healthz_answers_without_a_session(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_ready_when_every_check_passes(db, client, broker):
    heartbeat_record(now=timezone.now() - timedelta(seconds=20))
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "migrations", "heartbeat", "outbox"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.parametrize(
    ("beat_age", "pending_age", "failing"),
    [
        (None, None, {"heartbeat"}),
        (timedelta(minutes=3), None, {"heartbeat"}),
        (timedelta(minutes=2, seconds=50), None, set()),
        (timedelta(seconds=5), timedelta(minutes=31), {"outbox"}),
        (timedelta(seconds=5), timedelta(minutes=29), set()),
    ],
)
def test_stale_heartbeat_or_old_pending_message_is_not_ready(
    db, client, broker, beat_age, pending_age, failing
):
    now = timezone.now()
    if beat_age is not None:
        heartbeat_record(now=now - beat_age)
    if pending_age is not None:
        team = make_team()
        OutboxMessage.objects.create(
            event="alerts",
            recipient=team.owner,
            dedupe_key="old",
            status=OutboxStatus.PENDING,
            created_at=now - pending_age,
        )
    response = client.get("/readyz")
    checks = response.json()["checks"]
    assert {name for name, check in checks.items() if not check["ok"]} == failing
    assert response.status_code == (503 if failing else 200)


def test_unreachable_broker_is_not_ready(db, client):
    heartbeat_record(now=timezone.now())
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert not response.json()["checks"]["broker"]["ok"]


def test_probes_are_not_redirected_to_https(db, client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
