"""Raising alerts, one set-based statement a step: overdue, due soon, resolved (the
escalation ladder of a lateness episode is in `tracker.alerts.ladder`).

Each step inserts the alerts it raises with this scan's id (`alerts.services.alerts_scan` runs
them in one transaction and then fans the alerts out); unique constraints on (node, kind, due
date), and on (episode, kind, slot) for a lateness episode's alerts, make a re-run or a racing
scan raise nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache

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
    Names,
    compile_queryset,
    in_subquery,
    insert_from_select,
    scan_params,
)
from tracker.alerts.working_time import Deadlines
from tracker.core.sqltemplate import SqlTemplate
from tracker.milestones.forecast import d_day_threats
from tracker.milestones.models import (
    LatenessEpisode,
    Milestone,
    MilestoneStatus,
    changed_after,
    written_after_condition,
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


def _unjudged_overdue(
    now: datetime, since: datetime | None, written_after: datetime | None = None
) -> QuerySet[Milestone]:
    """Overdue nodes of active projects outside any lateness episode that the overdue step's
    previous run (as of `since`, its mark) could not have judged.

    A node becomes one of them only by time passing its due date, or by a write: of the node
    (a re-plan to an earlier date, a re-open, a new node) or of its project (an activation, a
    re-opened project). So with `since` only those are read: the due dates from `since` on (a
    range of the open nodes' due-date index), the nodes and the projects stamped after
    `written_after` (`changed_after(since)`, the margin for writes in flight). Without it (a
    first run, or a run for a moment before the last one) every overdue node is. The scan
    never writes the node: what it judged is its episode (one open episode per node, a unique
    index) and the mark."""
    open_episode = LatenessEpisode.objects.filter(milestone=OuterRef("pk"), ended_at__isnull=True)
    overdue = (
        Milestone.objects.overdue(now)
        .filter(project_id__in=_alerting_project_ids())
        .exclude(Exists(open_episode))
    )
    if since is None:
        return overdue
    written_after = written_after or changed_after(since)
    # An index condition, so the three ranges OR into one bitmap scan, where `IN (…)` would
    # be a filter over every node.
    in_projects = in_subquery("project_id", _projects_stamped_after(written_after))
    return overdue.filter(
        Q(due_at__gte=since) | written_after_condition(written_after) | in_projects
    )


# Two sets of (now, since, written_after) no scan is at: the candidates' SQL is compiled once
# per process (`SqlTemplate`), so an empty minute costs its round trips, not the ORM's build.
_CANDIDATE_SENTINELS = tuple(
    tuple(datetime(1901 + year, 2, 3, 4, 5, second, tzinfo=UTC) for second in (6, 7, 8))
    for year in (0, 1)
)
CANDIDATE_COLUMNS = ("pk", "project_id", "department_id", "due_at", "assignee_id")


def _candidates_sql(now: datetime, since: datetime | None) -> tuple[str, tuple]:
    """The SELECT of `_unjudged_overdue`'s candidate rows (`CANDIDATE_COLUMNS`), with its
    parameters: from the process's compiled template where the queryset allows one."""
    known = since is not None

    def build(now: datetime, since: datetime, written_after: datetime) -> QuerySet:
        return (
            _unjudged_overdue(now, since if known else None, written_after if known else None)
            .order_by()
            .values_list(*CANDIDATE_COLUMNS)
        )

    arguments = (now, since, changed_after(since) if known else None)
    template = SqlTemplate.get(("overdue-candidates", known), build, sentinels=_CANDIDATE_SENTINELS)
    if template is None:
        return compile_queryset(build(*arguments))
    return template.bind(*arguments)


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
    if connection.vendor == "postgresql":
        select_sql, select_params = _candidates_sql(now, since)
        when, scan = scan_params(now=now, scan_id=scan_id)
        params = (*select_params, when, scan, AlertKind.OVERDUE, when, scan)
        with connection.cursor() as cursor:
            cursor.execute(_episodes_and_alerts_sql().replace(NEWLY, select_sql), params)
            return max(cursor.rowcount, 0)
    started = _unjudged_overdue(now, since).values_list(
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


NEWLY = "/* the candidates */"


@cache
def _episodes_and_alerts_sql() -> str:
    """PostgreSQL: the episodes and their alerts in one statement (data-modifying CTEs), so the
    candidate nodes (`NEWLY`: `_candidates_sql`, compiled from the queryset, so the nodes
    alerted are exactly `overdue(now)`'s of active projects; a table test in
    tests/test_vocabulary.py holds the two side by side) are read once."""
    a, d, e, p = Names(Alert), Names(Department), Names(LatenessEpisode), Names(Project)
    quote = connection.ops.quote_name
    return f"""
        WITH newly (id, project_id, department_id, due_at, assignee_id) AS MATERIALIZED (
            {NEWLY}
        ), started AS (
            INSERT INTO {e.table} ({", ".join(quote(c) for c in EPISODE_COLUMNS)},
                {e.ended_at}, {e.rung}, {e.nudges}, {e.promised_at}, {e.snoozed_until})
            SELECT f.id, f.project_id, LEAST(%s, GREATEST(f.due_at,
                    (SELECT max(pe.{e.ended_at}) FROM {e.table} AS pe
                     WHERE pe.{e.milestone} = f.id),
                    p.{p.baselined_at})),
                f.due_at, %s, NULL, 1, 0, NULL, NULL
            FROM newly AS f
            INNER JOIN {p.table} AS p ON p.{p.id} = f.project_id
            ON CONFLICT DO NOTHING
            RETURNING {e.id}, {e.milestone}
        )
        INSERT INTO {a.table} ({", ".join(quote(c) for c in ALERT_INSERT_COLUMNS)})
        SELECT f.id, f.project_id, f.department_id, %s, f.due_at, %s, NULL,
            COALESCE(f.assignee_id, d.{d.lead}), d.{d.lead}, %s, s.{e.id}, 0
        FROM started AS s
        INNER JOIN newly AS f ON f.id = s.{e.milestone}
        INNER JOIN {d.table} AS d ON d.{d.id} = f.department_id
    """


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
    candidates = _not_alerted(
        Milestone.objects.due_soon(now, until=until.expression)
        # A range of the open nodes' due-date index before the per-project window.
        .filter(due_at__lte=until.latest),
        AlertKind.DUE_SOON,
    ).exclude(
        # A node re-planned inside its lateness episode: the episode's nudges and rungs
        # already speak of it, so its new date raises no reminder.
        Exists(LatenessEpisode.objects.filter(milestone=OuterRef("pk"), ended_at__isnull=True))
    )
    if changed_since is None or reminded_until is None:
        return _insert_alerts(
            candidates, milestone="pk", kind=AlertKind.DUE_SOON, now=now, scan_id=scan_id
        )
    # Each part on its own index: the window's new due dates, the nodes written since.
    parts = [candidates.filter(due_at__gte=reminded_until), candidates.changed_since(changed_since)]
    projects = list(_projects_stamped_after(changed_after(changed_since)))
    if projects:
        parts.append(candidates.filter(project_id__in=projects))
    return sum(
        _insert_alerts(part, milestone="pk", kind=AlertKind.DUE_SOON, now=now, scan_id=scan_id)
        for part in parts
    )


def _projects_stamped_after(stamp: datetime) -> QuerySet:
    """Projects written after `stamp` (a window, working hours or status changed: their nodes'
    windows or activation may have moved without a node changing), a range of
    `projects_updated`."""
    return Project.objects.filter(updated_at__gt=stamp).values_list("pk", flat=True)


def _not_alerted(candidates: QuerySet[Milestone], kind: str) -> QuerySet[Milestone]:
    """The candidates with no alert of `kind` (one outside any episode) for their due date: a
    probe of the unique (node, kind, due date) index per candidate, whose predicate
    (`episode IS NULL`) the subquery repeats so the planner may use it; without it the planner
    hashes every alert of that kind."""
    return candidates.exclude(
        Exists(
            Alert.objects.filter(
                milestone=OuterRef("pk"),
                kind=kind,
                due_at=OuterRef("due_at"),
                episode__isnull=True,
            )
        )
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


def _stale_alert_ids(changed_since: datetime | None) -> QuerySet:
    """The open alerts to close: a single alert whose node is closed or moved later, an
    episode's whose node is closed (an episode's alerts last until then, re-plans or not).

    With the watermark, each kind is read from the nodes written since by its own index: the
    single alerts by the unique (node, kind, due date) one, an episode's through the node's
    episodes to the unique (episode, kind, slot) one; one index serving both would be written
    by every alert the scan raises."""
    open_alerts = Alert.objects.open_problems().order_by()
    closed = Q(milestone__status__in=CLOSED_STATUSES)
    single = open_alerts.filter(episode__isnull=True).filter(
        closed | Q(milestone__due_at__gt=F("due_at"))
    )
    in_episodes = open_alerts.filter(episode__isnull=False).filter(closed)
    if changed_since is not None:
        changed = Milestone.objects.changed_since(changed_since).order_by()
        single = single.filter(in_subquery("milestone_id", changed.values("pk")))
        in_episodes = in_episodes.filter(
            episode__in=LatenessEpisode.objects.filter(
                milestone__in=changed.filter(status__in=CLOSED_STATUSES).values("pk")
            ).values("pk")
        )
    return single.values_list("pk", flat=True).union(in_episodes.values_list("pk", flat=True))


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
    stale_ids = list(_stale_alert_ids(changed_since))
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
