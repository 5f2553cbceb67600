"""Reads of the operations layer: readiness checks and the state behind the metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Max, Min
from django.utils import timezone

from config.celery import app
from tracker.notifications.models import OutboxMessage, OutboxStatus
from tracker.ops.models import Heartbeat
from tracker.ops.services import BEAT
from tracker.reports.models import ReportSnapshot

FINAL_STATUSES = {OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SKIPPED, OutboxStatus.MERGED}
EMAIL = "email"


@dataclass
class OpsState:
    outbox: dict[tuple[str, str, str], int] = field(default_factory=dict)
    oldest_pending_age: float | None = None
    snapshot_ages: dict[str, float] = field(default_factory=dict)
    heartbeat_age: float | None = None


def _age(now: datetime, moment: datetime | None) -> float | None:
    return max(0.0, (now - moment).total_seconds()) if moment else None


def heartbeat_age(*, now: datetime) -> float | None:
    at = Heartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()
    return _age(now, at)


def outbox_oldest_pending_age(*, now: datetime) -> float | None:
    oldest = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    return _age(now, oldest)


def ops_state(*, now: datetime | None = None) -> OpsState:
    """Four queries, whatever the size of the tables."""
    now = now or timezone.now()
    rows = (
        OutboxMessage.objects.order_by()
        .values_list("status", "event", "channel__kind")
        .annotate(count=Count("pk"))
    )
    snapshots = (
        ReportSnapshot.objects.order_by().values_list("kind").annotate(newest=Max("updated_at"))
    )
    return OpsState(
        outbox={(status, event, kind or EMAIL): count for status, event, kind, count in rows},
        oldest_pending_age=outbox_oldest_pending_age(now=now),
        snapshot_ages={kind: _age(now, newest) for kind, newest in snapshots},
        heartbeat_age=heartbeat_age(now=now),
    )


# Readiness ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


def _check_database() -> Check:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure means "not ready"; the detail says which
        return Check("database", False, f"{type(error).__name__}: {error}".strip())
    return Check("database", True, connections[DEFAULT_DB_ALIAS].vendor)


def _check_broker() -> Check:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            uri = conn.as_uri()  # without the password
    except Exception as error:  # kombu raises many kinds; any means "unreachable"
        return Check("broker", False, f"{type(error).__name__}: {error}".strip())
    return Check("broker", True, uri)


_migrations_applied = False  # once seen applied, they stay so for this process's code


def _check_migrations() -> Check:
    global _migrations_applied
    if not _migrations_applied:
        try:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as error:  # no database, or no migration table yet
            return Check("migrations", False, f"{type(error).__name__}: {error}".strip())
        if plan:
            return Check("migrations", False, f"{len(plan)} not applied: run `migrate`")
        _migrations_applied = True
    return Check("migrations", True, "all applied")


def _check_age(name: str, age: float | None, limit: int, *, missing: Check) -> Check:
    if age is None:
        return missing
    if age >= limit:
        return Check(name, False, f"{age:.0f} s old (limit {limit} s)")
    return Check(name, True, f"{age:.0f} s old")


def readiness(*, now: datetime | None = None) -> list[Check]:
    """Each check with its verdict; the later ones are skipped when the database is down."""
    now = now or timezone.now()
    database = _check_database()
    checks = [database, _check_broker()]
    if not database.ok:
        return [
            *checks,
            *(Check(n, False, "database down") for n in ("migrations", "heartbeat", "outbox")),
        ]
    checks.append(_check_migrations())
    try:
        beat = heartbeat_age(now=now)
        pending = outbox_oldest_pending_age(now=now)
    except Exception as error:  # tables missing before `migrate`
        detail = f"{type(error).__name__}: {error}".strip()
        return [*checks, Check("heartbeat", False, detail), Check("outbox", False, detail)]
    checks.append(
        _check_age(
            "heartbeat",
            beat,
            settings.READY_HEARTBEAT_MAX_AGE_SECONDS,
            missing=Check("heartbeat", False, "no heartbeat yet: is beat running?"),
        )
    )
    checks.append(
        _check_age(
            "outbox",
            pending,
            settings.READY_OUTBOX_MAX_AGE_SECONDS,
            missing=Check("outbox", True, "nothing pending"),
        )
    )
    return checks
