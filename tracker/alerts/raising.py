"""Raising alerts, one set-based statement a step: overdue, escalation, due soon, resolved.

Each step inserts the alerts it raises with this scan's id (`alerts.services.alerts_scan` runs
them in one transaction and then fans the alerts out); unique constraints on (node, kind, due
date) make a re-run or a racing scan raise nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import connection
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
)
from django.db.models.functions import Coalesce

from tracker.accounts.models import Department
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.sql import (
    CHUNK,
    Names,
    compile_queryset,
    compile_where,
    insert_from_select,
    scan_params,
)
from tracker.alerts.working_time import Deadlines
from tracker.milestones.forecast import d_day_threats
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.projects.models import Project

CLOSED_STATUSES = [MilestoneStatus.DONE, MilestoneStatus.CANCELLED]
# The columns an alert is raised with, in the order `_insert_alerts` selects them, and its key.
ALERT_COLUMNS = tuple(
    Alert._meta.get_field(field).column
    for field in (
        "milestone",
        "project",
        "department",
        "kind",
        "due_at",
        "created_at",
        "resolved_at",
        "notify_assignee",
        "notify_lead",
    )
)
SCAN_COLUMN = Alert._meta.get_field("scan_id").column
ALERT_KEY = tuple(Alert._meta.get_field(field).column for field in ("milestone", "kind", "due_at"))


def _insert_alerts(
    candidates: QuerySet,
    *,
    milestone: str,
    node: str = "",
    kind: str,
    now: datetime,
    scan_id: uuid.UUID,
    resolved: bool = False,
) -> int:
    """One alert of `kind` per candidate row (a node or an alert: its `milestone` field,
    `project_id`, `department_id` and `due_at`, and the node's people under `node`), unless
    that node already has one for that due date. The nodes read are locked as a foreign key
    would lock them (see `Alert.milestone`)."""
    rows = candidates.order_by().values_list(
        F(milestone),
        F("project_id"),
        F("department_id"),
        Value(kind, output_field=CharField()),
        F("due_at"),
        Value(now, output_field=DateTimeField()),
        Value(now if resolved else None, output_field=DateTimeField()),
        Coalesce(F(f"{node}assignee_id"), F(f"{node}department__lead_id")),
        F(f"{node}department__lead_id"),
        Value(scan_id, output_field=UUIDField()),
    )
    return insert_from_select(
        Alert, (*ALERT_COLUMNS, SCAN_COLUMN), rows, conflict=ALERT_KEY, key_share=Milestone
    )


def _quiet_project_ids() -> QuerySet:
    """Closed and archived projects (`ProjectQuerySet.quiet`), for `NOT IN`: their nodes
    raise no alerts (the vocabulary's `in_active_projects`)."""
    return Project.objects.quiet().order_by().values("pk")


def _unjudged_past_due(now: datetime) -> QuerySet[Milestone]:
    """Open nodes past their due date that no scan has judged yet, in every project (quiet
    ones are judged too, so they leave the partial index); alerted: those also `overdue(now)`."""
    return Milestone.objects.open().filter(overdue_flagged_at__isnull=True, due_at__lt=now)


def raise_overdue(*, now: datetime, scan_id: uuid.UUID) -> int:
    """Alert every open node past its due date that no scan has judged yet, then flag it.

    Both statements read the partial index of open, unflagged nodes. A node is flagged only
    once its alert for its current due date exists (or its project is quiet), so a node that
    becomes overdue between the two statements is left for the next scan, never lost.
    """
    if connection.vendor == "postgresql":
        return _flag_and_raise_overdue(now=now, scan_id=scan_id)
    newly = _unjudged_past_due(now)
    quiet = _quiet_project_ids()
    created = _insert_alerts(
        newly.overdue(now),
        milestone="pk",
        kind=AlertKind.OVERDUE,
        now=now,
        scan_id=scan_id,
    )
    alerted = Alert.objects.filter(
        milestone=OuterRef("pk"), kind=AlertKind.OVERDUE, due_at=OuterRef("due_at")
    )
    newly.filter(Exists(alerted) | Q(project_id__in=quiet)).update(overdue_flagged_at=now)
    return created


def _flag_and_raise_overdue(*, now: datetime, scan_id: uuid.UUID) -> int:
    """PostgreSQL: the flag and the alerts in one statement (a data-modifying CTE), so the
    open, unflagged nodes are read once, and a node is flagged in the same statement, from the
    same snapshot, that raises its alert: the two can never disagree. A racing scan's UPDATE
    waits for this one's row locks, finds the nodes flagged and raises nothing.

    Both conditions are compiled from the querysets (`_unjudged_past_due`, the quiet
    projects), so the nodes alerted are exactly `overdue(now)`'s unjudged ones (a table test
    in tests/test_vocabulary.py holds the two side by side)."""
    judged_where, judged_params = compile_where(_unjudged_past_due(now))
    quiet_sql, quiet_params = compile_queryset(_quiet_project_ids())
    m, a, d = Names(Milestone), Names(Alert), Names(Department)
    quote = connection.ops.quote_name
    sql = f"""
        WITH flagged AS (
            UPDATE {m.table} SET {m.overdue_flagged_at} = %s
            WHERE {judged_where}
            RETURNING {m.id}, {m.project}, {m.department}, {m.due_at}, {m.assignee}
        )
        INSERT INTO {a.table} ({", ".join(quote(c) for c in (*ALERT_COLUMNS, SCAN_COLUMN))})
        SELECT f.{m.id}, f.{m.project}, f.{m.department}, %s, f.{m.due_at}, %s, NULL,
            COALESCE(f.{m.assignee}, d.{d.lead}), d.{d.lead}, %s
        FROM flagged AS f
        INNER JOIN {d.table} AS d ON d.{d.id} = f.{m.department}
        WHERE f.{m.project} NOT IN ({quiet_sql})
        ON CONFLICT ({", ".join(quote(c) for c in ALERT_KEY)}) DO NOTHING
    """
    when, scan = scan_params(now=now, scan_id=scan_id)
    params = (when, *judged_params, AlertKind.OVERDUE, when, scan, *quiet_params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def raise_escalations(*, now: datetime, scan_id: uuid.UUID, before: Deadlines) -> int:
    """Escalate open nodes overdue for longer than their project's `escalate_after` (working
    time: due before `before`).

    Read from the overdue alerts not escalated yet (a range of the open problems' index, so
    the ones escalated long ago cost nothing), then marked like the overdue flag: only once the
    escalation exists. An escalation is only ever raised here and marked in the same
    transaction, so this scan marks the overdue alerts of the escalations it raised.
    """
    if before.latest is None:
        return 0
    waiting = Alert.objects.waiting_to_escalate(due_before=before.latest)
    candidates = (
        waiting.filter(
            milestone__status__in=MilestoneStatus.open_values(),
            milestone__due_at=F("due_at"),
        )
        .exclude(project_id__in=_quiet_project_ids())
        .alias(escalate_before=before.expression)
        .filter(due_at__lt=F("escalate_before"))
    )
    created = _insert_alerts(
        candidates,
        milestone="milestone_id",
        node="milestone__",
        kind=AlertKind.ESCALATION,
        now=now,
        scan_id=scan_id,
    )
    if created:
        escalated = (
            Alert.objects.filter(
                kind=AlertKind.OVERDUE,
                milestone=OuterRef("milestone_id"),
                due_at=OuterRef("due_at"),
            )
            .order_by()
            .values("pk")
        )
        raised = Alert.objects.filter(
            kind=AlertKind.ESCALATION, created_at=now, scan_id=scan_id
        ).values(overdue_alert=Subquery(escalated))
        Alert.objects.filter(pk__in=raised).update(escalated_at=now)
    return created


def raise_due_soon(*, now: datetime, scan_id: uuid.UUID, until: Deadlines) -> int:
    """Remind about open nodes due within their project's window of working time (due no later
    than `until`; `due_at` == now included)."""
    if until.latest is None:
        return 0
    candidates = (
        Milestone.objects.due_soon(now, until=until.expression)
        # A range on the partial index of unflagged nodes before the per-project window.
        .filter(overdue_flagged_at__isnull=True, due_at__lte=until.latest)
        .exclude(
            Exists(
                Alert.objects.filter(
                    milestone=OuterRef("pk"), kind=AlertKind.DUE_SOON, due_at=OuterRef("due_at")
                )
            )
        )
    )
    return _insert_alerts(
        candidates, milestone="pk", kind=AlertKind.DUE_SOON, now=now, scan_id=scan_id
    )


def _not_alerted(candidates: QuerySet[Milestone], kind: str) -> QuerySet[Milestone]:
    return candidates.exclude(
        Exists(Alert.objects.filter(milestone=OuterRef("pk"), kind=kind, due_at=OuterRef("due_at")))
    )


def raise_forecast_slips(*, now: datetime, scan_id: uuid.UUID) -> int:
    """Warn the assignee and the department lead of every node whose forecast (persisted by the
    forecast refresh just before) passed its due date while it is not overdue yet: `at_risk()`
    among the nodes still due. Once per node and due date: one forecast episode lasts until
    the node is done, cancelled or re-planned (which resolves the alert)."""
    candidates = Milestone.objects.at_risk().filter(due_at__gte=now)
    return _insert_alerts(
        _not_alerted(candidates, AlertKind.FORECAST_SLIP),
        milestone="pk",
        kind=AlertKind.FORECAST_SLIP,
        now=now,
        scan_id=scan_id,
    )


def raise_d_day_at_risk(*, now: datetime, scan_id: uuid.UUID) -> int:
    """Warn the project owner when the critical path ends with negative float before a D-day
    still ahead: the alert names the path's last node (once per node and due date)."""
    ends = d_day_threats()
    if not ends:
        return 0
    candidates = (
        Milestone.objects.open()
        .filter(pk__in=ends, project__d_day__gte=now)
        .exclude(project_id__in=_quiet_project_ids())
    )
    return _insert_alerts(
        _not_alerted(candidates, AlertKind.D_DAY_AT_RISK),
        milestone="pk",
        kind=AlertKind.D_DAY_AT_RISK,
        now=now,
        scan_id=scan_id,
    )


def resolve(*, now: datetime, scan_id: uuid.UUID) -> int:
    """Close open alerts of nodes that are done, cancelled or moved to a later date, with one
    `resolved` alert per node and due date.

    Every open alert is checked against its node (one join, a few microseconds an alert), so
    this runs every 15 minutes rather than every minute; the ids found (only the alerts to
    close) are then written in chunks. A node with several open alerts selects the same
    `resolved` row more than once; the unique constraint keeps one.
    """
    stale_ids = list(
        Alert.objects.open_problems()
        .filter(Q(milestone__status__in=CLOSED_STATUSES) | Q(milestone__due_at__gt=F("due_at")))
        .order_by()
        .values_list("pk", flat=True)
    )
    created = 0
    for start in range(0, len(stale_ids), CHUNK):
        stale = Alert.objects.filter(pk__in=stale_ids[start : start + CHUNK])
        created += _insert_alerts(
            stale,
            milestone="milestone_id",
            node="milestone__",
            kind=AlertKind.RESOLVED,
            now=now,
            scan_id=scan_id,
            resolved=True,
        )
        stale.update(resolved_at=now)
    return created
