"""`make serve`'s script against a fresh PostgreSQL and Redis with production settings: a page,
the API, a static file, readiness (beat's heartbeat included) and an alert's email all work,
and it stops cleanly."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import uuid

import httpx
import pytest
from django.conf import settings

from tests.alerts.support import REPO, SmtpServer, free_port, manage_py, wait_until

pytestmark = pytest.mark.slow


def test_make_serve_runs_web_worker_and_beat(fresh_database, tmp_path):
    database_url = fresh_database()
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.REDIS_URL,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": f"serve-{uuid.uuid4().hex[:8]}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://milepost.example.com",
        "BEHIND_TLS_PROXY": "true",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "MILEPOST_VAR_DIR": str(tmp_path),
        "MILEPOST_PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "1",
        "METRICS_TOKEN": "scrape",
        "LOG_FORMAT": "json",
    }
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "tracker.ops.serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    proxy = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front would say
    try:

        def ready():
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=150, interval=0.5)  # beat's heartbeat has run on the worker

        page = httpx.get(f"{base}/accounts/login/", headers=proxy)
        assert page.status_code == 200 and "csrfmiddlewaretoken" in page.text
        assert httpx.get(f"{base}/accounts/login/").status_code == 301  # plain HTTP → HTTPS

        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
        hashed = next(v for k, v in manifest["paths"].items() if k.endswith(".css"))
        static = httpx.get(f"{base}/static/{hashed}", headers=proxy)
        assert static.status_code == 200 and "immutable" in static.headers["Cache-Control"]

        child = {**os.environ, **env}
        assert manage_py("seed_demo", env=child).returncode == 0
        key = manage_py("issue_token", "owner", env=child).stdout.strip()
        api = httpx.get(
            f"{base}/api/v1/projects/", headers={**proxy, "Authorization": f"Token {key}"}
        )
        assert api.status_code == 200
        assert {p["name"] for p in api.json()["results"]} >= {"Double 11"} or api.json()[
            "count"
        ] >= 1

        scan = manage_py("flag_overdue", env=child)
        assert scan.returncode == 0, scan.stderr
        wait_until(lambda: smtp.handler.received, timeout=60, interval=0.2)  # the worker sent it
        assert "milepost.example.com" in smtp.handler.received[0].body()

        scrape = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape"})
        assert (
            'milepost_outbox_messages{event="alerts",platform="email",status="sent"}' in scrape.text
        )
        assert "milepost_beat_heartbeat_age_seconds" in scrape.text
    finally:
        serve.send_signal(signal.SIGTERM)  # honcho passes it on to web, worker and beat
        try:
            serve.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
            smtp.stop()
    text = (tmp_path / "serve.log").read_text()
    for process in ("web", "worker", "beat"):
        assert f"{process}.1 stopped (rc=0)" in text, text[-2000:]
    with pytest.raises(ProcessLookupError):
        os.killpg(serve.pid, 0)  # nothing of the group is left
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
