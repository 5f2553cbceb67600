"""One run per periodic task and period, whatever number of beats sends it.

Beat claims a `PeriodicRun` row for (task, period) before it sends the task:
`INSERT … ON CONFLICT DO NOTHING` on a unique constraint, the same statement on PostgreSQL and
on SQLite. On PostgreSQL a second beat's insert waits for the first's commit, then inserts
nothing; on SQLite the writers take turns. The loser sends nothing. Rows older than a day are
pruned as new ones come (a second beat only ever races for the current period).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction

from tracker.core.models import PeriodicRun

logger = logging.getLogger(__name__)

KEEP = timedelta(days=1)

CLAIM_SQL = (
    "INSERT INTO {table} (task, period_start, claimed_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (task, period_start) DO NOTHING"
)


def _param(field: str, value: object) -> object:
    return PeriodicRun._meta.get_field(field).get_db_prep_value(value, connection)


def periodic_run_claim(*, task: str, period_start: datetime, now: datetime) -> bool:
    """Claim the run of `task` for the period starting at `period_start`: True for the first
    claim, False (a no-op, logged at debug) when a run was already claimed for it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                CLAIM_SQL.format(table=connection.ops.quote_name(PeriodicRun._meta.db_table)),
                [
                    _param("task", task),
                    _param("period_start", period_start),
                    _param("claimed_at", now),
                ],
            )
            won = cursor.rowcount == 1
        if won:
            PeriodicRun.objects.filter(task=task, period_start__lt=now - KEEP).delete()
    if not won:
        logger.debug(
            "%s already started for the period from %s: not started again",
            task,
            period_start.isoformat(),
        )
    return won


def periodic_run_release(*, task: str, period_start: datetime) -> None:
    """Give the claim back (the task could not be sent): another beat may send it."""
    PeriodicRun.objects.filter(task=task, period_start=period_start).delete()
