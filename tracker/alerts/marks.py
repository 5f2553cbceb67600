"""The scans' watermarks (`ScanMark`): what the previous run of a step already judged, so an
empty run costs what changed since, not what exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q

from tracker.alerts.models import ScanMark
from tracker.alerts.sql import Names


@dataclass(frozen=True)
class Since:
    """What the previous run judged; None where this run must read everything."""

    scanned_at: datetime | None = None
    reminded_until: datetime | None = None


def scan_mark_claim(*, name: str, now: datetime) -> Since:
    """Lock this kind of scan's mark until the transaction ends (a racing run waits, then
    reads what this one wrote) and say what the previous run judged. A mark ahead of `now` (a
    scan run for a moment in the past) says nothing: that run reads everything."""
    locked = ScanMark.objects.select_for_update()
    mark = locked.filter(name=name).first()
    if mark is None:  # the first run: racing first runs create it once, then take turns
        ScanMark.objects.bulk_create([ScanMark(name=name)], ignore_conflicts=True)
        mark = locked.get(name=name)
    if mark.scanned_at is None or mark.scanned_at > now:
        return Since()
    return Since(scanned_at=mark.scanned_at, reminded_until=mark.reminded_until)


def scan_mark_advance(*, name: str, now: datetime, reminded_until: datetime | None) -> None:
    """Record this run (in its transaction, under the lock `scan_mark_claim` took); never move
    the mark back."""
    ScanMark.objects.filter(Q(scanned_at__isnull=True) | Q(scanned_at__lte=now), name=name).update(
        scanned_at=now, reminded_until=reminded_until
    )


def scan_mark_move(*, name: str, now: datetime) -> Since:
    """`scan_mark_claim` and `scan_mark_advance` at once, for a step whose mark is only its
    `now` (the overdue step): lock the mark until the transaction ends, move it to `now` (never
    back) and say where the previous run left it. One statement on PostgreSQL, where an empty
    every-minute run pays for each round trip."""
    if connection.vendor != "postgresql":
        since = scan_mark_claim(name=name, now=now)
        scan_mark_advance(name=name, now=now, reminded_until=None)
        return since
    mark = Names(ScanMark)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {mark.table} AS m SET {mark.scanned_at} = GREATEST(m.{mark.scanned_at}, %s)"
            f" FROM (SELECT {mark.name}, {mark.scanned_at} FROM {mark.table}"
            f" WHERE {mark.name} = %s FOR UPDATE) AS old"
            f" WHERE m.{mark.name} = old.{mark.name} RETURNING old.{mark.scanned_at}",
            [now, name],
        )
        row = cursor.fetchone()
    if row is None:  # the first run: racing first runs create it once
        ScanMark.objects.bulk_create([ScanMark(name=name, scanned_at=now)], ignore_conflicts=True)
        return Since()
    previous = row[0]
    return Since() if previous is None or previous > now else Since(scanned_at=previous)
