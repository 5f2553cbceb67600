"""Prometheus metrics (prometheus-client, in multiprocess mode when PROMETHEUS_MULTIPROC_DIR
is set, as `make serve` does for gunicorn's workers and Celery's pool).

Two kinds of figures:
- events counted where they happen (requests, task runs, scan durations and alerts per
  scan), written by each process to the shared directory and summed at scrape time;
- the state of the data (outbox depth, oldest pending message, deliveries, snapshot age,
  heartbeat age), read from the database at scrape time by `DatabaseCollector`: a constant
  number of set-based queries, whichever process answers and however many workers there are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from celery.signals import task_postrun, task_prerun
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tracker.ops import selectors

HTTP_REQUESTS = Counter(
    "milepost_http_requests",
    "HTTP requests answered, by method, URL route and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "milepost_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and URL route.",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TASK_RUNS = Histogram(
    "milepost_task_duration_seconds",
    "Celery task run time, by task name and final state.",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
)
SCAN_DURATION = Histogram(
    "milepost_scan_duration_seconds",
    "Deadline scan run time (scans skipped behind a running one are not counted).",
    ["scan"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
SCAN_ALERTS = Histogram(
    "milepost_scan_alerts",
    "Alerts raised (overdue, escalation, due soon, resolved) per deadline scan.",
    ["scan"],
    buckets=(0, 1, 5, 10, 50, 100, 500, 1000, 5000, 20000),
)
SCANS = {"alerts.scan_overdue": "overdue", "alerts.scan_due_soon": "due_soon"}
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def observe_task(*, task: str, state: str, seconds: float, result: object) -> None:
    TASK_RUNS.labels(task, state).observe(seconds)
    scan = SCANS.get(task)
    if scan and state == "SUCCESS" and isinstance(result, dict) and not result.get("skipped"):
        SCAN_DURATION.labels(scan).observe(seconds)
        raised = sum(result.get(k, 0) for k in ("overdue", "escalated", "due_soon", "resolved"))
        SCAN_ALERTS.labels(scan).observe(raised)


_started: dict[str, float] = {}


def connect_task_signals() -> None:
    """Time every task this process runs (Celery's signals: the tasks need not know)."""

    def prerun(task_id: str, **kwargs) -> None:
        _started[task_id] = time.perf_counter()

    def postrun(task_id: str, task, retval=None, state: str | None = None, **kwargs) -> None:
        started = _started.pop(task_id, None)
        if started is not None:
            observe_task(
                task=task.name,
                state=state or "UNKNOWN",
                seconds=time.perf_counter() - started,
                result=retval,
            )

    task_prerun.connect(prerun, weak=False, dispatch_uid="milepost-metrics-prerun")
    task_postrun.connect(postrun, weak=False, dispatch_uid="milepost-metrics-postrun")


class DatabaseCollector(Collector):
    """Milepost's state, read from the database when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        state = selectors.ops_state()
        depth = GaugeMetricFamily(
            "milepost_outbox_messages",
            "Outbox messages by status, event and platform (email or the channel's kind).",
            labels=["status", "event", "platform"],
        )
        deliveries = CounterMetricFamily(
            "milepost_outbox_deliveries",
            "Outbox messages that reached a final result, by result and platform. Read from "
            "the outbox table: it goes down only if someone deletes outbox rows.",
            labels=["result", "platform"],
        )
        finished: dict[tuple[str, str], int] = {}
        for (status, event, platform), count in state.outbox.items():
            depth.add_metric([status, event, platform], count)
            if status in selectors.FINAL_STATUSES:
                finished[status, platform] = finished.get((status, platform), 0) + count
        for (result, platform), count in sorted(finished.items()):
            deliveries.add_metric([result, platform], count)
        yield depth
        yield deliveries
        yield GaugeMetricFamily(
            "milepost_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox message (0 when none is pending).",
            value=state.oldest_pending_age or 0,
        )
        snapshots = GaugeMetricFamily(
            "milepost_report_snapshot_age_seconds",
            "Time since the newest report snapshot of each period kind was written.",
            labels=["kind"],
        )
        for kind, age in sorted(state.snapshot_ages.items()):
            snapshots.add_metric([kind], age)
        yield snapshots
        if state.heartbeat_age is not None:
            yield GaugeMetricFamily(
                "milepost_beat_heartbeat_age_seconds",
                "Time since the beat heartbeat task last ran on a worker.",
                value=state.heartbeat_age,
            )


def render() -> bytes:
    """The text exposition of every figure: this process's (or all processes') events and
    the database's state."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    return generate_latest(processes) + generate_latest(database)
