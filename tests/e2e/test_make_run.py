"""`make run` as a newcomer runs it: the Procfile's web, worker and beat under honcho, on SQLite
and the file-system broker in a fresh var/ folder, mailing an SMTP server on loopback.

The beat schedule runs 60 times faster (BEAT_MINUTE_SECONDS=1: the every-minute jobs every
second, the quarter-hour scan every 15), so the minute scan, the outbox sweep and the
quarter-hour scan keep firing in the same second, for over forty minutes of schedule. Nodes go
overdue, due soon, overdue long enough to escalate; one is completed and one moved later
through the API while the jobs run. Every notice must arrive exactly once, in an email of its
own Message-ID, with no traceback in any log, no row left unsent, and Ctrl-C must stop it all.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.alerts.support import REPO, SmtpServer, free_port, manage_py, wait_until

pytestmark = pytest.mark.slow

MINUTE_SECONDS = 1
RUN_SECONDS = 50  # from the web's start: 50 minute scans and sweeps, 3 or 4 quarter-hour scans

SEED = """
import json
from datetime import timedelta
from django.utils import timezone
from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.accounts.models import TokenScope
from tracker.accounts.services import token_issue

now = timezone.now()
owner = UserFactory(username="olga", email="olga@example.com")
lead = UserFactory(username="li", email="li@example.com")
lena = UserFactory(username="lena", email="lena@example.com")
department = DepartmentFactory(code="merch", name="Merchandising", lead=lead)
project = ProjectFactory(owner=owner, name="Double 11", status="active")
nodes = {}
for title, hours, assignee in [
    ("Price approval", -2, lena),  # overdue; completed during the run
    ("Stock check", -60, lena),  # overdue long before the project existed
    ("Banner copy", 3, lena),  # due soon
    ("Ad slots", -1, None),  # overdue, nobody assigned; moved later during the run
]:
    nodes[title] = MilestoneFactory(
        project=project, department=department, assignee=assignee, title=title,
        due_at=now + timedelta(hours=hours),
    ).pk
_token, key = token_issue(user=owner, scope=TokenScope.WRITE)
print(json.dumps({"nodes": nodes, "token": key}))
"""

# (recipient, node, kind): who hears of what (README, "Recipients"; docs/escalation.md). The
# project is minutes old, so its lateness episodes start now and nothing climbs the ladder
# during the run: the assignee hears of an overdue node, the lead only of the unassigned one.
FIRST = {
    ("lena@example.com", "Price approval", "overdue"),
    ("lena@example.com", "Stock check", "overdue"),
    ("lena@example.com", "Banner copy", "due_soon"),
    ("li@example.com", "Ad slots", "overdue"),  # as the lead, and for nobody assigned: once
}
# Done ends the episode and resolves its alert; a re-plan does not ("Ad slots" moved later stays
# in its episode: docs/escalation.md).
RESOLVED = {("lena@example.com", "Price approval", "resolved")}


def environment(var: Path, smtp: SmtpServer, port: int) -> dict[str, str]:
    """`make run`'s environment (no DATABASE_URL, broker or Redis) with our SMTP server."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "TEST_BROKER_URL"}
    }
    env.update(
        DEBUG="true",
        MILEPOST_VAR_DIR=str(var),
        MILEPOST_PORT=str(port),
        SITE_URL=f"http://127.0.0.1:{port}",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        EMAIL_TIMEOUT="5",
        OUTBOX_RETRY_BASE_SECONDS="1",
        BEAT_MINUTE_SECONDS=str(MINUTE_SECONDS),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def notices(var: Path, smtp: SmtpServer) -> Counter:
    """(recipient, node, kind) for each alert in each email received, read from the outbox
    row its Message-ID names."""
    with sqlite3.connect(var / "milepost.sqlite3", timeout=30) as db:
        payloads = dict(
            db.execute(
                "SELECT id, payload FROM alerts_outboxmessage WHERE recipient_id IS NOT NULL"
            )
        )
        alerts = {
            pk: (title, kind)
            for pk, title, kind in db.execute(
                "SELECT a.id, m.title, a.kind FROM alerts_alert AS a"
                " JOIN milestones_milestone AS m ON m.id = a.milestone_id"
            )
        }
    counted = Counter()
    for received in smtp.handler.received:
        row = uuid.UUID(str(received.message["Message-ID"]).strip("<>").split("@")[0]).hex
        for alert_id in json.loads(payloads[row])["alert_ids"]:
            counted[(received.recipients[0], *alerts[alert_id])] += 1
    return counted


def api_patch(port: int, token: str, node: int, data: dict) -> None:
    """Read the node, then write it with the ETag read (the API requires If-Match)."""
    url = f"http://127.0.0.1:{port}/api/v1/milestones/{node}/"
    read = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(read, timeout=30) as response:
        etag = response.headers["ETag"]
    request = urllib.request.Request(
        url,
        data=json.dumps(data).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "If-Match": etag,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def web_is_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2):
            return True
    except OSError:
        return False


def test_make_run_delivers_every_notice_once(tmp_path):
    var, port, smtp = tmp_path / "var", free_port(), SmtpServer()
    var.mkdir()
    env = environment(var, smtp, port)
    smtp.start()
    migrated = manage_py("migrate", "--noinput", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = manage_py("shell", "-c", SEED, env=env)
    assert seeded.returncode == 0, seeded.stderr
    seed = json.loads(seeded.stdout.splitlines()[-1])

    log = tmp_path / "honcho.log"
    with log.open("w") as output:
        honcho = subprocess.Popen(
            [str(Path(sys.executable).with_name("honcho")), "start", "-f", "Procfile.dev"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: web_is_up(port), timeout=30, interval=0.2)
        started = time.monotonic()
        wait_until(lambda: set(notices(var, smtp)) >= FIRST, timeout=40, interval=0.5)

        # On the board, while the jobs run: one node done, one moved to a later date.
        nodes = seed["nodes"]
        api_patch(port, seed["token"], nodes["Price approval"], {"status": "done"})
        api_patch(port, seed["token"], nodes["Ad slots"], {"due_at": "2030-01-01T09:00:00Z"})
        wait_until(lambda: set(notices(var, smtp)) >= FIRST | RESOLVED, timeout=40, interval=0.5)
        time.sleep(max(0.0, RUN_SECONDS - (time.monotonic() - started)))
    finally:
        honcho.send_signal(signal.SIGINT)  # Ctrl-C
        stopping = time.monotonic()
        try:
            honcho.wait(15)
        except subprocess.TimeoutExpired:
            honcho.kill()
        stopped_in = time.monotonic() - stopping
        smtp.stop()
    output = log.read_text()

    assert Counter({notice: 1 for notice in FIRST | RESOLVED}) == notices(var, smtp), output
    message_ids = [str(r.message["Message-ID"]) for r in smtp.handler.received]
    assert len(message_ids) == len(set(message_ids)), "one Message-ID received twice"
    for problem in ("Traceback", "database is locked", "ERROR", "SIGKILL"):
        assert problem not in output, output
    assert stopped_in < 10, output
    with sqlite3.connect(var / "milepost.sqlite3") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM alerts_outboxmessage GROUP BY 1"))
    assert set(statuses) == {"sent"}, statuses
    assert statuses["sent"] == len(message_ids)
    # The schedule really ran: the worker finished the minute jobs for over 40 minutes of
    # schedule, the quarter-hour scan at least three times.
    done = Counter(
        line.split("Task ", 1)[1].split("[", 1)[0]
        for line in output.splitlines()
        if "] succeeded in" in line
    )
    assert done["alerts.scan_overdue"] >= 40 and done["notifications.outbox_flush"] >= 40, done
    assert done["alerts.scan_due_soon"] >= 3, done
