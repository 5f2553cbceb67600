"""Real components for the deadline engine's tests: an SMTP server on loopback (aiosmtpd),
Celery worker processes on the real broker, and the team every case starts from."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from tracker.core.beat import DatabaseScheduler

REPO = Path(__file__).resolve().parents[2]
ESTABLISHED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # when the teams' projects were created
FAR = timedelta(hours=2000)  # 250 working days
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd narrates every command


def manage_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python manage.py ARGS` in a process of its own, as a person at a shell would."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 20, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


# SMTP -----------------------------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes = b""  # as it came over the wire

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: str = "plain") -> str:
        return self.message.get_body(preferencelist=(subtype,)).get_content()


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts and refuses what it is told to."""

    received: list[Received] = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address → SMTP reply
    data_reply: str | None = None  # e.g. "451 4.3.0 try later"
    hold: threading.Event | None = None  # DATA waits for this event, then refuses
    data_started: threading.Event = field(default_factory=threading.Event)
    # [session, messages] of each SMTP connection that reached DATA (the session itself, kept,
    # so that none is counted twice)
    sessions: list = field(default_factory=list)
    per_session: int | None = None  # after this many messages a connection answers 421

    @property
    def connections(self) -> int:
        return len(self.sessions)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_started.set()
        seen = next((entry for entry in self.sessions if entry[0] is session), None)
        if seen is None:
            seen = [session, 0]
            self.sessions.append(seen)
        if self.per_session is not None and seen[1] >= self.per_session:
            return "421 4.7.0 Too many messages on one connection"
        seen[1] += 1
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30)
            return "421 4.3.0 closing"
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, envelope.content)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


class SmtpServer:
    """An SMTP server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def reset(self) -> None:
        self.handler.received.clear()
        self.handler.refuse_rcpt.clear()
        self.handler.data_reply = None
        self.handler.hold = None
        self.handler.data_started.clear()
        self.handler.sessions.clear()
        self.handler.per_session = None

    def use(self, django_settings) -> SmtpServer:
        """Start (again), empty, and point Django's email settings here."""
        self.start()
        self.reset()
        django_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        django_settings.EMAIL_HOST = "127.0.0.1"
        django_settings.EMAIL_PORT = self.port
        django_settings.EMAIL_TIMEOUT = 5
        django_settings.OUTBOX_RETRY_BASE_SECONDS = 1
        return self


# Celery ---------------------------------------------------------------------------------------


def broker_url() -> str:
    """The tests' broker: TEST_BROKER_URL (the SQLite run's, which has no REDIS_URL, as in
    `make run`), else CELERY_BROKER_URL, else Redis."""
    url = (
        os.environ.get("TEST_BROKER_URL")
        or os.environ.get("CELERY_BROKER_URL")
        or settings.REDIS_URL
    )
    if not url.startswith(("redis://", "rediss://", "amqp://")):
        pytest.fail("The engine tests need a real broker: set REDIS_URL or TEST_BROKER_URL.")
    return url


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"  # the test database is a file (config/settings.py)
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


def child_env(smtp_server: SmtpServer, queue: str) -> dict[str, str]:
    """The environment of a worker or scan process: the test database, the broker, our SMTP."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url(),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        "SITE_URL": "https://milepost.example.com",
        "TIME_ZONE": settings.TIME_ZONE,
        "LOG_LEVEL": "INFO",
        # Real processes run on the machine's clock: quiet hours must not depend on it.
        "ALERTS_AT_ANY_HOUR": "true",
    }


class Worker:
    """`celery worker` in a process of its own (solo pool: the process that sends is the one
    a test can kill)."""

    def __init__(self, env: dict[str, str], queue: str, log: Path) -> None:
        self.queue = queue
        self.log = log
        self.handle = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-P",
                "solo",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Celery worker did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def finished(self, task_id: str) -> bool:
        """Whether this worker's log records the end of the task (succeeded or failed)."""
        text = self.log.read_text()
        if f"[{task_id}] raised" in text:
            raise AssertionError(f"task {task_id} failed:\n{text}")
        return f"[{task_id}] succeeded" in text

    def wait_for(self, *results, timeout: float = 30) -> None:
        """Wait until the worker has run these tasks (their ids appear in its log as done)."""
        wait_until(lambda: all(self.finished(r.id) for r in results), timeout=timeout)

    def drain(self, timeout: float = 30) -> None:
        """Wait until every task queued so far has run: one process, one task at a time, in
        queue order, so a task sent now runs after them (an outbox sweep: harmless, and it
        would send anything left pending)."""
        from tracker.notifications.tasks import outbox_flush

        self.wait_for(outbox_flush.delay(), timeout=timeout)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


class Beat:
    """A beat scheduler, loading the schedule from the database as beat does, and the entry of
    one job as its `tick` keeps it: each run reserves the next one."""

    def __init__(self, name: str) -> None:
        self.scheduler = DatabaseScheduler(app=celery_app)
        self.entry = self.scheduler.schedule[name]

    def tick(self):
        """What `Scheduler.tick` does with the due entry: reserve its next run, then send it
        (None: not sent)."""
        entry, self.entry = self.entry, self.scheduler.reserve(self.entry)
        return self.scheduler.apply_async(entry, advance=False)


# Data -----------------------------------------------------------------------------------------


@dataclass
class Team:
    """One project, one department: its lead, an assignee and the project's owner."""

    owner: object
    lead: object
    assignee: object
    department: object
    project: object

    def node(self, due_at, **fields):
        from tests.factories import MilestoneFactory

        fields.setdefault("assignee", self.assignee)
        fields.setdefault("project", self.project)
        fields.setdefault("department", self.department)
        return MilestoneFactory(due_at=due_at, **fields)


def make_team(*, baselined: bool = False) -> Team:
    """`baselined`: the project's plan is of record (the deviation reports count only those)."""
    from tests.factories import (
        BaselinedProjectFactory,
        DepartmentFactory,
        ProjectFactory,
        UserFactory,
    )
    from tracker.projects.models import ProjectStatus

    owner = UserFactory(username="olga", email="olga@example.com")
    lead = UserFactory(username="li", email="li@example.com")
    assignee = UserFactory(username="lena", email="lena@example.com")
    department = DepartmentFactory(code="merch", name="Merchandising", lead=lead)
    factory = BaselinedProjectFactory if baselined else ProjectFactory
    project = establish(factory(owner=owner, name="Double 11", status=ProjectStatus.ACTIVE))
    return Team(owner, lead, assignee, department, project)


def establish(project):
    """An established project (one younger than its first working day escalates nothing), its
    ladder's upper rungs out of reach: the tests of the ladder (tests/alerts/test_ladder.py)
    set them, the others see the lead's rung after 48 working hours."""
    from tracker.projects.models import Project

    fields = {
        "created_at": ESTABLISHED,
        "escalate_after": timedelta(hours=48),
        "escalate_owner_after": FAR,
        "escalate_contact_after": FAR,
        "nudge_every": FAR / 5,
    }
    Project.objects.filter(pk=project.pk).update(**fields)
    project.refresh_from_db()
    return project
