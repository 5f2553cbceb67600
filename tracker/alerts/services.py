"""The deadline scan and the daily digest: raise alerts set-based, tell each person once.

A scan, in one transaction, as of `now`:

- overdue: open nodes of active projects past their due date that no scan has judged yet start
  a lateness episode with an alert to the assignee, then the flag that takes them out of the
  next scan's index (every minute);
- ladder: broken promises climb at once; episodes climb to the lead, the owner and the
  escalation contact after their working-hour delays; the assignee is nudged again every
  working day (`ladder`, every minute, each step only when an index probe says an open episode
  may be due for it); episodes of nodes closed past the services end (every 15 minutes);
- due soon: open nodes within their project's `due_soon_window` (every 15 minutes);
  both in working hours, and only in working time (see `working_time`);
- forecast: the projects whose nodes changed since their last forecast, or that have an open
  overdue node, are forecast again (`milestones.forecast`); nodes newly forecast past their
  due date warn their assignee and lead (`forecast_slip`), a critical path ending with negative
  float warns the project owner (`d_day_at_risk`) (every 15 minutes);
- resolve: open alerts of nodes that are done, cancelled or re-planned later get `resolved_at`,
  and one `resolved` alert per node and due date says so (every 15 minutes);
- fan-out: the alerts this scan raised become one outbox row per person (held for the digest
  when they chose one) and one per chat channel, sent by a worker after commit.

Each step is one set-based statement, guarded by unique constraints: re-running a scan, or
several scans racing, never raises a second alert or queues a second message for the same
node, kind and due date. The advisory lock only saves a racing scan the work. The quarter-hour
steps read only what changed since their previous run (`marks.ScanMark`: nodes written, due
dates entering a window, nodes gone overdue), so a run that finds nothing costs next to
nothing; the every-minute steps read the ranges of indexes that hold only what is still to
judge.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction

from tracker.alerts import fanout, ladder, raising
from tracker.alerts.marks import Since, scan_mark_advance, scan_mark_claim, scan_mark_move
from tracker.alerts.sql import scan_begin
from tracker.alerts.working_time import working_deadlines
from tracker.milestones.forecast import forecasts_refresh
from tracker.projects.models import Project

logger = logging.getLogger(__name__)


class Step:
    OVERDUE = "overdue"
    ESCALATE = "escalate"
    DUE_SOON = "due_soon"
    RESOLVE = "resolve"
    FORECAST = "forecast"

    ALL = frozenset({OVERDUE, ESCALATE, DUE_SOON, RESOLVE, FORECAST})
    EVERY_MINUTE = frozenset({OVERDUE, ESCALATE})
    EVERY_QUARTER_HOUR = frozenset({DUE_SOON, RESOLVE, FORECAST})


# The watermarks (`marks`) of the quarter-hour steps and of the overdue step, each shared by its
# own kind of scan and the full scan.
QUARTER_MARK = "quarter-hour"
OVERDUE_MARK = "overdue"


class ScanLock:
    TRY = "try"  # beat: skip this run when another scan is running
    WAIT = "wait"  # the command: wait for it
    NONE = "none"  # rely on the constraints alone


@dataclass(frozen=True)
class ScanResult:
    overdue: int = 0
    escalated: int = 0
    nudged: int = 0
    due_soon: int = 0
    resolved: int = 0
    forecast_slip: int = 0
    d_day_at_risk: int = 0
    messages: int = 0
    skipped: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def scan_steps(*, overdue: bool, due_soon: bool) -> frozenset[str]:
    return (Step.EVERY_MINUTE if overdue else frozenset()) | (
        Step.EVERY_QUARTER_HOUR if due_soon else frozenset()
    )


def scan_lock_name(steps: frozenset[str]) -> str:
    """One lock per kind of scan: the minute scan never waits for the quarter-hour one."""
    return "alerts-scan:" + ",".join(sorted(steps))


def alerts_scan(
    *, now: datetime, overdue: bool = True, due_soon: bool = True, lock: str = ScanLock.TRY
) -> ScanResult:
    """One scan as of `now`: the beat tasks, the `flag_overdue` command and the benchmark all
    call this. `overdue` is the every-minute part (newly overdue nodes, escalations),
    `due_soon` the quarter-hour part (due-soon reminders, resolutions). Returns what it raised
    and how many messages it queued to send now."""
    steps = scan_steps(overdue=overdue, due_soon=due_soon)
    scan_id = uuid.uuid4()
    counts = {}
    with transaction.atomic():
        own_lock = None if lock == ScanLock.NONE else scan_lock_name(steps)
        if not scan_begin(own_lock, wait=lock == ScanLock.WAIT):
            logger.info("Another alert scan holds the lock; skipping this run.")
            return ScanResult(skipped=True)
        quarter = bool(steps & Step.EVERY_QUARTER_HOUR)
        since = scan_mark_claim(name=QUARTER_MARK, now=now) if quarter else Since()
        if Step.RESOLVE in steps:
            # The safety net for episodes of nodes closed past the services (`ladder`).
            ladder.end_episodes(now=now, changed_since=since.scanned_at)
            counts["resolved"] = raising.resolve(
                now=now, scan_id=scan_id, changed_since=since.scanned_at
            )
        if Step.OVERDUE in steps:
            judged = scan_mark_move(name=OVERDUE_MARK, now=now)
            counts["overdue"] = raising.raise_overdue(
                now=now, scan_id=scan_id, since=judged.scanned_at
            )
        if Step.ESCALATE in steps:
            counts["escalated"], counts["nudged"] = ladder.ladder_climb(now=now, scan_id=scan_id)
        if Step.DUE_SOON in steps:
            remind = working_deadlines(now=now, projects=Project.objects.active())
            counts["due_soon"] = raising.raise_due_soon(
                now=now,
                scan_id=scan_id,
                until=remind,
                changed_since=since.scanned_at,
                reminded_until=since.reminded_until,
            )
        if Step.FORECAST in steps:
            refreshed = forecasts_refresh(
                projects=Project.objects.active(), now=now, since=since.scanned_at
            )
            if refreshed:
                logger.info("Alert scan %s: forecast %d projects again.", scan_id, len(refreshed))
            counts["forecast_slip"] = raising.raise_forecast_slips(now=now, scan_id=scan_id)
            counts["d_day_at_risk"] = raising.raise_d_day_at_risk(now=now, scan_id=scan_id)
        if quarter:
            scan_mark_advance(
                name=QUARTER_MARK,
                now=now,
                reminded_until=remind.earliest if Step.DUE_SOON in steps else None,
            )
        if any(counts.values()):
            counts["messages"] = fanout.fan_out(scan_id=scan_id, now=now)
    result = ScanResult(**counts)
    if any(counts.values()):
        logger.info("Alert scan %s: %s", scan_id, result.as_dict())
    return result
