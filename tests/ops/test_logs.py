"""Every line names its request or task; LOG_FORMAT=json writes one JSON object per line."""

import json
import logging
import os
import subprocess
import sys

from tests.alerts.support import REPO
from tracker.ops.logs import ContextFilter, JsonFormatter, request_id_var


def record(message: str = "hello", name: str = "tracker.test", args=None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def test_the_request_id_is_taken_from_the_proxy_or_made_and_echoed(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef0123456789")
    assert given["X-Request-ID"] == "abcdef0123456789"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id; rm -rf")
    assert len(made["X-Request-ID"]) == 32
    assert made["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_json_lines_carry_the_request_id():
    token = request_id_var.set("req-1234567890")
    try:
        line = record("node moved")
        ContextFilter().filter(line)
    finally:
        request_id_var.reset(token)
    entry = json.loads(JsonFormatter().format(line))
    assert entry["message"] == "node moved"
    assert entry["request_id"] == "req-1234567890"
    assert entry["level"] == "INFO"
    assert line.ctx == "req=req-1234567890"


def test_gunicorn_access_lines_become_fields():
    atoms = {
        "m": "GET",
        "U": "/readyz",
        "s": "200",
        "M": "12",
        "{x-request-id}o": "abcdef0123456789",
        "h": "10.0.0.1",
    }
    line = record("%(m)s %(U)s", name="gunicorn.access", args=atoms)
    ContextFilter().filter(line)
    entry = json.loads(JsonFormatter().format(line))
    assert entry["method"] == "GET" and entry["path"] == "/readyz" and entry["status"] == "200"
    assert entry["request_id"] == "abcdef0123456789"
    assert entry["duration_ms"] == "12"


RUN_TASK = """
import django, logging, os
django.setup()
from celery import shared_task
@shared_task(name="test.log_something")
def log_something():
    logging.getLogger("tracker.test").info("inside the task")
log_something.apply(task_id="task-id-42")
"""


def test_task_lines_carry_the_task_id_in_json(tmp_path):
    env = {
        **os.environ,
        "LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MILEPOST_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", RUN_TASK],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["message"] == "inside the task"]
    assert mine and mine[0]["task_id"] == "task-id-42", result.stderr
