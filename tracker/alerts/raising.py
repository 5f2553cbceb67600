"""Raising alerts, one set-based statement a step: overdue, due soon, resolved (the
escalation ladder of a lateness episode is in `tracker.alerts.ladder`).

Each step inserts the alerts it raises with this scan's id (`alerts.services.alerts_scan` runs
them in one transaction and then fans the alerts out); unique constraints on (node, kind, due
date), and on (episode, kind, slot) for a lateness episode's alerts, make a re-run or a racing
scan raise nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least

from tracker.accounts.models import Department
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.sql import (
    CHUNK,
    AnyOfSubquery,
    Names,
    compile_where,
    insert_from_select,
    scan_params,
)
from tracker.alerts.working_time import Deadlines
from tracker.milestones.forecast import d_day_threats
from tracker.milestones.models import (
    CHANGE_MARGIN,
    LatenessEpisode,
    Milestone,
    MilestoneStatus,
    changed_since_condition,
)
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
EPISODE_ALERT_COLUMNS = tuple(
    Alert._meta.get_field(field).column for field in ("episode", "sequence")
)
ALERT_INSERT_COLUMNS = (*ALERT_COLUMNS, SCAN_COLUMN, *EPISODE_ALERT_COLUMNS)
# The columns a scan starts an episode with (`raise_overdue`); the rest take their defaults.
EPISODE_COLUMNS = tuple(
    LatenessEpisode._meta.get_field(field).column
    for field in ("milestone", "project", "started_at", "started_due_at", "scan_id")
)


def _insert_alerts(
    candidates: QuerySet,
    *,
    milestone: str,
    node: str = "",
    copies: str = "",
    kind: str | Expression,
    now: datetime,
    scan_id: uuid.UUID,
    resolved: bool = False,
    episode: str | None = None,
    sequence: Expression | None = None,
) -> int:
    """One alert of `kind` per candidate row (a node, an alert or an episode: its `milestone`
    field, the project, department and due date under `copies`, and the node's people under
    `node`), unless that
    node already has one for that due date, or, for an `episode` (its field) alert, that
    episode already has one of that kind and `sequence` (the unique constraints). The scan's
    share of the node-deletion lock guards the nodes read (see `Alert.milestone`)."""
    rows = candidates.order_by().values_list(
        F(milestone),
        F(f"{copies}project_id"),
        F(f"{copies}department_id"),
        Value(kind, output_field=CharField()) if isinstance(kind, str) else kind,
        F(f"{copies}due_at"),
        Value(now, output_field=DateTimeField()),
        Value(now if resolved else None, output_field=DateTimeField()),
        Coalesce(F(f"{node}assignee_id"), F(f"{node}department__lead_id")),
        F(f"{node}department__lead_id"),
        Value(scan_id, output_field=UUIDField()),
        F(episode) if episode else Value(None, output_field=IntegerField()),
        sequence if sequence is not None else Value(0, output_field=IntegerField()),
    )
    return insert_from_select(Alert, ALERT_INSERT_COLUMNS, rows)


def _quiet_project_ids() -> QuerySet:
    """Closed and archived projects (`ProjectQuerySet.quiet`), for `NOT IN`: their nodes
    raise no alerts (the vocabulary's `in_active_projects`)."""
    return Project.objects.quiet().order_by().values("pk")


def _alerting_project_ids() -> QuerySet:
    """Active projects (`ProjectQuerySet.alerting`): a planning project's past-due nodes are
    overdue (the vocabulary) but raise no alert and start no episode until it is active
    (issue 16: a wizard's past nodes are no alert storm)."""
    return Project.objects.alerting().order_by().values("pk")


def _unjudged_overdue(now: datetime, since: datetime | None) -> QuerySet[Milestone]:
    """Overdue nodes of active projects outside any lateness episode that the overdue step's
    previous run (as of `since`, its mark) could not have judged.

    A node becomes one of them only by time passing its due date, or by a write: of the node
    (a re-plan to an earlier date, a re-open, a new node: `changed_since`) or of its project
    (an activation, a re-opened project). So with `since` only those are read: the due dates
    from `since` on (a range of the open nodes' due-date index), the nodes and the projects
    written since. Without it (a first run, or a run for a moment before the last one) every
    overdue node is. The scan never writes the node: what it judged is its episode (one open
    episode per node, a unique index) and the mark."""
    open_episode = LatenessEpisode.objects.filter(milestone=OuterRef("pk"), ended_at__isnull=True)
    overdue = (
        Milestone.objects.overdue(now)
        .filter(project_id__in=_alerting_project_ids())
        .exclude(Exists(open_episode))
    )
    if since is None:
        return overdue
    projects = _changed_project_ids(since)
    if connection.vendor == "postgresql":
        # `= ANY(ARRAY(…))`, an index condition: the three ranges OR into one bitmap scan,
        # where `IN (…)` would be a filter over every node
        in_projects = Q(AnyOfSubquery(F("project_id"), ArraySubquery(projects)))
    else:
        in_projects = Q(project_id__in=projects)
    return overdue.filter(Q(due_at__gte=since) | changed_since_condition(since) | in_projects)


def _episode_start(*, now: datetime) -> Greatest:
    """When a newly judged node's lateness episode starts: when it became overdue, its due
    date, unless it was still inside an earlier episode then (a re-opened node: when that
    one ended) or its project's plan was not active yet (its first baseline); never after
    `now`."""
    previous = (
        LatenessEpisode.objects.filter(milestone=OuterRef("pk"))
        .order_by("-ended_at")
        .values("ended_at")[:1]
    )
    return Least(
        Greatest(
            F("due_at"),
            Coalesce(Subquery(previous), F("due_at")),
            Coalesce(F("project__baselined_at"), F("due_at")),
        ),
        Value(now, output_field=DateTimeField()),
    )


def raise_overdue(*, now: datetime, scan_id: uuid.UUID, since: datetime | None = None) -> int:
    """Start a lateness episode, with its first rung (the `overdue` alert, to the assignee),
    for every overdue node of an active project that is not inside one already
    (`_unjudged_overdue`: with the previous run's `since`, only what can be new).

    A node re-planned during its episode and overdue again raises nothing: its episode goes
    on (`raising.ladder`). A racing scan's episode insert waits on the one open episode per
    node (a unique index) and does nothing. What guards the nodes read against a deletion is
    the scan's share of `tracker.core.locks` (see `LatenessEpisode.milestone`)."""
    candidates = _unjudged_overdue(now, since)
    if connection.vendor == "postgresql":
        return _start_episodes_and_alerts(candidates, now=now, scan_id=scan_id)
    started = candidates.values_list(
        F("pk"),
        F("project_id"),
        _episode_start(now=now),
        F("due_at"),
        Value(scan_id, output_field=UUIDField()),
    )
    insert_from_select(LatenessEpisode, EPISODE_COLUMNS, started)
    return _insert_alerts(
        LatenessEpisode.objects.filter(scan_id=scan_id, ended_at__isnull=True),
        milestone="milestone_id",
        node="milestone__",
        copies="milestone__",
        kind=AlertKind.OVERDUE,
        now=now,
        scan_id=scan_id,
        episode="pk",
    )


def _start_episodes_and_alerts(
    candidates: QuerySet[Milestone], *, now: datetime, scan_id: uuid.UUID
) -> int:
    """PostgreSQL: the episodes and their alerts in one statement (data-modifying CTEs), so the
    candidate nodes are read once. The condition is compiled from the queryset
    (`_unjudged_overdue`), so the nodes alerted are exactly `overdue(now)`'s of active
    projects (a table test in tests/test_vocabulary.py holds the two side by side)."""
    where, where_params = compile_where(candidates)
    m, a, d, e, p = (
        Names(Milestone),
        Names(Alert),
        Names(Department),
        Names(LatenessEpisode),
        Names(Project),
    )
    quote = connection.ops.quote_name
    sql = f"""
        WITH newly AS MATERIALIZED (
            SELECT {m.id}, {m.project}, {m.department}, {m.due_at}, {m.assignee}
            FROM {m.table} WHERE {where}
        ), started AS (
            INSERT INTO {e.table} ({", ".join(quote(c) for c in EPISODE_COLUMNS)},
                {e.ended_at}, {e.rung}, {e.nudges}, {e.promised_at}, {e.snoozed_until})
            SELECT f.{m.id}, f.{m.project}, LEAST(%s, GREATEST(f.{m.due_at},
                    (SELECT max(pe.{e.ended_at}) FROM {e.table} AS pe
                     WHERE pe.{e.milestone} = f.{m.id}),
                    p.{p.baselined_at})),
                f.{m.due_at}, %s, NULL, 1, 0, NULL, NULL
            FROM newly AS f
            INNER JOIN {p.table} AS p ON p.{p.id} = f.{m.project}
            ON CONFLICT DO NOTHING
            RETURNING {e.id}, {e.milestone}
        )
        INSERT INTO {a.table} ({", ".join(quote(c) for c in ALERT_INSERT_COLUMNS)})
        SELECT f.{m.id}, f.{m.project}, f.{m.department}, %s, f.{m.due_at}, %s, NULL,
            COALESCE(f.{m.assignee}, d.{d.lead}), d.{d.lead}, %s, s.{e.id}, 0
        FROM started AS s
        INNER JOIN newly AS f ON f.{m.id} = s.{e.milestone}
        INNER JOIN {d.table} AS d ON d.{d.id} = f.{m.department}
        ON CONFLICT DO NOTHING
    """
    when, scan = scan_params(now=now, scan_id=scan_id)
    params = (*where_params, when, scan, AlertKind.OVERDUE, when, scan)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def raise_due_soon(
    *,
    now: datetime,
    scan_id: uuid.UUID,
    until: Deadlines,
    changed_since: datetime | None = None,
    reminded_until: datetime | None = None,
) -> int:
    """Remind about open nodes due within their project's window of working time (due no later
    than `until`; `due_at` == now included), but not a node inside an open lateness episode.

    With the previous run's watermark (`marks.Since`), only what can be new is read: the due
    dates past `reminded_until` (up to there every project's window had reached, and each node
    in it was judged), and the nodes or projects written since `changed_since`. Both are ranges
    of an index, so a run that finds nothing costs what entered the window since, not what is
    in it."""
    if until.latest is None:
        return 0
    candidates = (
        Milestone.objects.due_soon(now, until=until.expression)
        # A range of the open nodes' due-date index before the per-project window.
        .filter(due_at__lte=until.latest)
        .exclude(
            Exists(
                Alert.objects.filter(
                    milestone=OuterRef("pk"), kind=AlertKind.DUE_SOON, due_at=OuterRef("due_at")
                )
            )
        )
        # A node re-planned inside its lateness episode: the episode's nudges and rungs
        # already speak of it, so its new date raises no reminder.
        .exclude(
            Exists(LatenessEpisode.objects.filter(milestone=OuterRef("pk"), ended_at__isnull=True))
        )
    )
    if changed_since is None or reminded_until is None:
        return _insert_alerts(
            candidates, milestone="pk", kind=AlertKind.DUE_SOON, now=now, scan_id=scan_id
        )
    # Each part on its own index: the window's new due dates, the nodes written since.
    parts = [candidates.filter(due_at__gte=reminded_until), candidates.changed_since(changed_since)]
    projects = list(_changed_project_ids(changed_since))
    if projects:
        parts.append(candidates.filter(project_id__in=projects))
    return sum(
        _insert_alerts(part, milestone="pk", kind=AlertKind.DUE_SOON, now=now, scan_id=scan_id)
        for part in parts
    )


def _changed_project_ids(changed_since: datetime) -> QuerySet:
    """Projects written since `changed_since` (a window, working hours or status changed):
    their nodes' windows may have moved without a node changing."""
    return Project.objects.filter(updated_at__gt=changed_since - CHANGE_MARGIN).values_list(
        "pk", flat=True
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


def resolve(*, now: datetime, scan_id: uuid.UUID, changed_since: datetime | None = None) -> int:
    """Close open alerts of nodes that are done, cancelled or moved to a later date, with one
    `resolved` alert per node and due date.

    Only a write of its node can resolve an alert, so with the previous run's watermark only
    the open alerts of the nodes written since `changed_since` are read (a range of the nodes'
    `updated_at` index joined to the open alerts): an empty run costs the nodes that changed,
    not the open alerts. Without it (the first run) every open alert is checked
    against its node. The ids found (only the alerts to close) are then written in chunks. A
    node with several open alerts selects the same `resolved` row more than once; the unique
    constraint keeps one.
    """
    stale = Alert.objects.open_problems().filter(
        Q(milestone__status__in=CLOSED_STATUSES)
        # A re-plan resolves a single alert; an episode's last until the node is closed.
        | Q(milestone__due_at__gt=F("due_at"), episode__isnull=True)
    )
    if changed_since is not None:
        stale = stale.filter(
            milestone__in=Milestone.objects.changed_since(changed_since).values("pk")
        )
    stale_ids = list(stale.order_by().values_list("pk", flat=True))
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
