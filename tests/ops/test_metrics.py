"""/metrics: restricted, Milepost's own figures from the database, summed across processes."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.alerts.support import REPO, make_team
from tracker.notifications.models import Channel, OutboxMessage, OutboxStatus
from tracker.ops import metrics, selectors
from tracker.ops.services import heartbeat_record
from tracker.reports.models import ReportSnapshot


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = "scrape-me-please"
    settings.METRICS_ALLOWED_NETWORKS = []
    return {"HTTP_AUTHORIZATION": "Bearer scrape-me-please"}


@pytest.mark.parametrize(
    ("headers", "networks", "status"),
    [
        ({}, [], 403),
        ({"HTTP_AUTHORIZATION": "Bearer wrong"}, [], 403),
        ({"HTTP_AUTHORIZATION": "Bearer scrape-me-please"}, [], 200),
        ({}, ["10.0.0.0/8"], 403),
        ({}, ["127.0.0.0/8"], 200),  # the test client comes from 127.0.0.1
    ],
)
def test_metrics_need_the_token_or_an_allowed_network(
    db, client, token, settings, headers, networks, status
):
    settings.METRICS_ALLOWED_NETWORKS = networks
    assert client.get("/metrics", **headers).status_code == status


def test_outbox_deliveries_snapshots_and_heartbeat_from_the_database(db, client, token):
    now = timezone.now()
    team = make_team()
    channel = Channel.objects.create(
        name="war room", kind="feishu", url="https://open.feishu.cn/x", events=["overdue"]
    )
    rows = [
        ("alerts", OutboxStatus.PENDING, team.owner, None, timedelta(minutes=7)),
        ("alerts", OutboxStatus.PENDING, team.lead, None, timedelta(minutes=2)),
        ("alerts", OutboxStatus.SENT, team.lead, None, timedelta(0)),
        ("alerts", OutboxStatus.FAILED, None, channel, timedelta(0)),
        ("weekly_report", OutboxStatus.SENT, None, channel, timedelta(0)),
    ]
    for n, (event, status, person, chan, age) in enumerate(rows):
        OutboxMessage.objects.create(
            event=event,
            status=status,
            recipient=person,
            channel=chan,
            dedupe_key=str(n),
            created_at=now - age,
        )
    ReportSnapshot.objects.create(
        kind="week", label="2026-W47", period_start=now, period_end=now, as_of=now, data={}
    )
    heartbeat_record(now=now - timedelta(seconds=40))
    client.get("/healthz")

    found = samples(client.get("/metrics", **token).content.decode())

    def outbox(status, event, platform):
        return found[
            "milepost_outbox_messages",
            (("event", event), ("platform", platform), ("status", status)),
        ]

    assert outbox("pending", "alerts", "email") == 2
    assert outbox("failed", "alerts", "feishu") == 1
    assert outbox("sent", "weekly_report", "feishu") == 1
    assert (
        found["milepost_outbox_deliveries_total", (("platform", "feishu"), ("result", "sent"))] == 1
    )
    assert (
        found["milepost_outbox_deliveries_total", (("platform", "email"), ("result", "sent"))] == 1
    )
    assert (
        found["milepost_outbox_deliveries_total", (("platform", "feishu"), ("result", "failed"))]
        == 1
    )
    assert 7 * 60 <= found["milepost_outbox_oldest_pending_age_seconds", ()] < 7 * 60 + 30
    assert found["milepost_report_snapshot_age_seconds", (("kind", "week"),)] < 30
    assert 40 <= found["milepost_beat_heartbeat_age_seconds", ()] < 70
    healthz = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert found["milepost_http_requests_total", healthz] >= 1


def test_database_figures_take_four_queries_whatever_the_size(db, django_assert_num_queries):
    team = make_team()
    for n in range(30):
        OutboxMessage.objects.create(event="alerts", recipient=team.owner, dedupe_key=str(n))
    with django_assert_num_queries(4):
        selectors.ops_state()


def test_scan_metrics_count_alerts_raised_and_skip_skipped_scans():
    def count(scan):
        return metrics.SCAN_ALERTS.labels(scan)._sum.get(), metrics.SCAN_DURATION.labels(
            scan
        )._sum.get()

    alerts_before, _ = count("overdue")
    metrics.observe_task(
        task="alerts.scan_overdue",
        state="SUCCESS",
        seconds=0.5,
        result={
            "overdue": 3,
            "escalated": 1,
            "due_soon": 0,
            "resolved": 2,
            "messages": 4,
            "skipped": False,
        },
    )
    metrics.observe_task(
        task="alerts.scan_overdue", state="SUCCESS", seconds=9, result={"skipped": True}
    )
    alerts_after, _ = count("overdue")
    assert alerts_after - alerts_before == 6


WRITE_AND_EXIT = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from tracker.ops import metrics
metrics.observe_request(method="GET", route="/summed", status=200, seconds=0.2)
"""


def test_figures_add_up_across_processes(tmp_path, db):
    """Two worker processes each count one request; a third, scraping, sees both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", WRITE_AND_EXIT], cwd=REPO, env=env, check=True, timeout=60
        )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    try:
        text = metrics.render().decode()
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    found = samples(text)
    key = (("method", "GET"), ("route", "/summed"), ("status", "200"))
    assert found["milepost_http_requests_total", key] == 2
    assert (
        found[
            "milepost_http_request_duration_seconds_count",
            (("method", "GET"), ("route", "/summed")),
        ]
        == 2
    )
