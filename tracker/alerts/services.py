"""The deadline scan and the daily digest: raise alerts set-based, tell each person once.

A scan, in one transaction, as of `now`:

- overdue: open nodes past their due date that no scan has judged yet get an alert, then the
  flag that takes them out of the next scan's index (every minute);
- escalation: overdue alerts older than their project's `escalate_after` (every minute);
- due soon: open nodes within their project's `due_soon_window` (every 15 minutes);
- resolve: open alerts of nodes that are done, cancelled or re-planned later get `resolved_at`,
  and one `resolved` alert per node and due date says so (every 15 minutes);
- fan-out: the alerts this scan raised become one outbox row per person (held for the digest
  when they chose one) and one per chat channel, sent by a worker after commit.

Each step is one statement over the whole table, guarded by unique constraints: re-running a
scan, or several scans racing, never raises a second alert or queues a second message for the
same node, kind and due date. The advisory lock only saves a racing scan the work.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
)
from django.db.models.functions import Coalesce

from tracker.accounts.models import EmailMode
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.sql import (
    advisory_xact_lock,
    compile_queryset,
    compile_where,
    execute,
    insert_from_select,
    vendor_sql,
    without_jit,
    without_nested_loops,
)
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.notifications.models import (
    CHANNEL_SCOPE,
    Channel,
    OutboxEvent,
    OutboxMessage,
    OutboxStatus,
)
from tracker.notifications.services import outbox_flush_after_commit
from tracker.projects.models import Project

logger = logging.getLogger(__name__)

CLOSED_STATUSES = [MilestoneStatus.DONE, MilestoneStatus.CANCELLED]
ALERT_COLUMNS = (
    "milestone_id",
    "project_id",
    "department_id",
    "kind",
    "due_at",
    "created_at",
    "resolved_at",
    "notify_assignee_id",
    "notify_lead_id",
)
ALERT_KEY = ("milestone_id", "kind", "due_at")
CHUNK = 5000  # ids per statement, well under any database's parameter limit


class Step:
    OVERDUE = "overdue"
    ESCALATE = "escalate"
    DUE_SOON = "due_soon"
    RESOLVE = "resolve"

    ALL = frozenset({OVERDUE, ESCALATE, DUE_SOON, RESOLVE})
    EVERY_MINUTE = frozenset({OVERDUE, ESCALATE})
    EVERY_QUARTER_HOUR = frozenset({DUE_SOON, RESOLVE})


class Role:
    """Who hears about a node."""

    ASSIGNEE = "assignee"  # the assignee, or the department lead when nobody is assigned
    LEAD = "lead"  # the department lead
    OWNER = "owner"  # the project owner


RECIPIENTS: dict[str, tuple[str, ...]] = {
    AlertKind.DUE_SOON: (Role.ASSIGNEE,),
    AlertKind.OVERDUE: (Role.ASSIGNEE, Role.LEAD),
    AlertKind.ESCALATION: (Role.OWNER, Role.LEAD),
    # AlertKind.RESOLVED goes to whoever was told about the overdue or escalation it closes.
}
# Each role as SQL over an alert `a` (which copied its node's people when raised) and its
# project `p`.
ROLE_COLUMN = {
    Role.ASSIGNEE: "a.notify_assignee_id",
    Role.LEAD: "a.notify_lead_id",
    Role.OWNER: "p.owner_id",
}


class ScanLock:
    TRY = "try"  # beat: skip this run when another scan is running
    WAIT = "wait"  # the command: wait for it
    NONE = "none"  # rely on the constraints alone


@dataclass(frozen=True)
class ScanResult:
    overdue: int = 0
    escalated: int = 0
    due_soon: int = 0
    resolved: int = 0
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
        locked = lock == ScanLock.NONE or advisory_xact_lock(
            scan_lock_name(steps), wait=lock == ScanLock.WAIT
        )
        if not locked:
            logger.info("Another alert scan holds the lock; skipping this run.")
            return ScanResult(skipped=True)
        without_jit()
        if Step.RESOLVE in steps:
            counts["resolved"] = _resolve(now=now, scan_id=scan_id)
        if Step.OVERDUE in steps:
            counts["overdue"] = _raise_overdue(now=now, scan_id=scan_id)
        if Step.ESCALATE in steps:
            counts["escalated"] = _raise_escalations(now=now, scan_id=scan_id)
        if Step.DUE_SOON in steps:
            counts["due_soon"] = _raise_due_soon(now=now, scan_id=scan_id)
        if any(counts.values()):
            counts["messages"] = _fan_out(scan_id=scan_id, now=now)
    result = ScanResult(**counts)
    if any(counts.values()):
        logger.info("Alert scan %s: %s", scan_id, result.as_dict())
    return result


def _sql_values(*, now: datetime, scan_id: uuid.UUID) -> tuple:
    """`now` and `scan_id` as parameters of raw SQL, prepared as the ORM would."""
    return (
        DateTimeField().get_db_prep_value(now, connection),
        UUIDField().get_db_prep_value(scan_id, connection),
    )


# Raising alerts -------------------------------------------------------------------------------


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
        Alert, (*ALERT_COLUMNS, "scan_id"), rows, conflict=ALERT_KEY, key_share=Milestone
    )


def _quiet_project_ids() -> QuerySet:
    """Closed and archived projects (`ProjectQuerySet.quiet`), for `NOT IN`: their nodes
    raise no alerts (the vocabulary's `in_active_projects`)."""
    return Project.objects.quiet().order_by().values("pk")


def _unjudged_past_due(now: datetime) -> QuerySet[Milestone]:
    """Open nodes past their due date that no scan has judged yet, in every project (quiet
    ones are judged too, so they leave the partial index); alerted: those also `overdue(now)`."""
    return Milestone.objects.open().filter(overdue_flagged_at__isnull=True, due_at__lt=now)


def _raise_overdue(*, now: datetime, scan_id: uuid.UUID) -> int:
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
    sql = f"""
        WITH flagged AS (
            UPDATE milestones_milestone SET overdue_flagged_at = %s
            WHERE {judged_where}
            RETURNING id, project_id, department_id, due_at, assignee_id
        )
        INSERT INTO alerts_alert ({", ".join((*ALERT_COLUMNS, "scan_id"))})
        SELECT f.id, f.project_id, f.department_id, %s, f.due_at, %s, NULL,
            COALESCE(f.assignee_id, d.lead_id), d.lead_id, %s
        FROM flagged AS f
        INNER JOIN accounts_department AS d ON d.id = f.department_id
        WHERE f.project_id NOT IN ({quiet_sql})
        ON CONFLICT ({", ".join(ALERT_KEY)}) DO NOTHING
    """
    when, scan = _sql_values(now=now, scan_id=scan_id)
    params = (when, *judged_params, AlertKind.OVERDUE, when, scan, *quiet_params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _raise_escalations(*, now: datetime, scan_id: uuid.UUID) -> int:
    """Escalate open nodes overdue for longer than their project's `escalate_after`.

    Read from the overdue alerts not escalated yet (a range of the open problems' index, so
    the ones escalated long ago cost nothing), then marked like the overdue flag: only once the
    escalation exists. An escalation is only ever raised here and marked in the same
    transaction, so this scan marks the overdue alerts of the escalations it raised.
    """
    shortest = Project.objects.active().aggregate(shortest=Min("escalate_after"))["shortest"]
    if shortest is None:
        return 0
    waiting = Alert.objects.waiting_to_escalate(due_before=now - shortest)
    candidates = (
        waiting.filter(
            milestone__status__in=MilestoneStatus.open_values(),
            milestone__due_at=F("due_at"),
        )
        .exclude(project_id__in=_quiet_project_ids())
        .alias(escalate_at=F("due_at") + F("project__escalate_after"))
        .filter(escalate_at__lt=now)
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


def _raise_due_soon(*, now: datetime, scan_id: uuid.UUID) -> int:
    """Remind about open nodes due within their project's window (`due_at` == now included)."""
    widest = Project.objects.active().aggregate(widest=Max("due_soon_window"))["widest"]
    if not widest:
        return 0
    candidates = (
        Milestone.objects.due_soon(now)
        # A range on the partial index of unflagged nodes before the per-project window.
        .filter(overdue_flagged_at__isnull=True, due_at__lte=now + widest)
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


def _resolve(*, now: datetime, scan_id: uuid.UUID) -> int:
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


# Fan-out --------------------------------------------------------------------------------------


def _fan_out(*, scan_id: uuid.UUID, now: datetime) -> int:
    """Outbox rows for the alerts this scan raised; returns how many are to be sent now."""
    with without_nested_loops():
        emails = _queue_emails(scan_id=scan_id, now=now)
        chats = _queue_chat_messages(scan_id=scan_id, now=now)
    if emails or chats:
        outbox_flush_after_commit()
    return emails + chats


def _outbox_insert(destination: str) -> str:
    """The head of the fan-outs' INSERT … SELECT: every column, in the order they select."""
    return (
        f"INSERT INTO {OutboxMessage._meta.db_table} (id, event, {destination}, payload, "
        "dedupe_key, status, attempts, next_attempt_at, last_error, subject, response, created_at)"
    )


def _queue_emails(*, scan_id: uuid.UUID, now: datetime) -> int:
    """One email per person listing all their new alerts, in one INSERT … SELECT … GROUP BY
    (held for the daily digest when the person chose one). Returns the emails to send now.

    `base` reads each new alert with the people it copied from its node; `pairs` is one SELECT
    per role of RECIPIENTS, joined by UNION (which drops the duplicate when the assignee is the
    lead); `lists` groups them by person, leaving out the projects the person muted. Inactive
    people and people without an email address are skipped.
    """
    branches, branch_params = [], []
    for role in ROLE_COLUMN:
        kinds = [kind for kind, roles in RECIPIENTS.items() if role in roles]
        closes = [kind for kind in kinds if kind != AlertKind.DUE_SOON] or [""]
        branches.append(
            f"SELECT id, project_id, {role} AS to_user FROM base WHERE {role} IS NOT NULL AND ("
            f"kind IN ({', '.join(['%s'] * len(kinds))}) OR (kind = %s AND EXISTS ("
            "SELECT 1 FROM alerts_alert AS told WHERE told.milestone_id = base.milestone_id"
            f" AND told.due_at = base.due_at AND told.kind IN ({', '.join(['%s'] * len(closes))})"
            ")))"
        )
        branch_params += [*kinds, AlertKind.RESOLVED, *closes]
    sql = f"""
        WITH base AS MATERIALIZED (
            SELECT a.id, a.kind, a.project_id, a.milestone_id, a.due_at,
                {", ".join(f"{column} AS {role}" for role, column in ROLE_COLUMN.items())}
            FROM alerts_alert AS a
            INNER JOIN projects_project AS p ON p.id = a.project_id
            WHERE a.created_at = %s AND a.scan_id = %s
        ), pairs AS (
            {" UNION ".join(branches)}
        ), lists AS (
            SELECT r.to_user, {vendor_sql("id_list", key="alert_ids", column="r.id")} AS payload
            FROM pairs AS r
            WHERE NOT EXISTS (
                SELECT 1 FROM accounts_user_muted_projects AS muted
                WHERE muted.user_id = r.to_user AND muted.project_id = r.project_id
            )
            GROUP BY r.to_user
        )
        {_outbox_insert("recipient_id")}
        SELECT {vendor_sql("new_uuid")}, %s, l.to_user, l.payload, %s || CAST(l.to_user AS TEXT),
            CASE WHEN u.email_mode = %s THEN %s ELSE %s END, 0, %s, '', '', '', %s
        FROM lists AS l
        INNER JOIN accounts_user AS u ON u.id = l.to_user
        WHERE u.is_active AND u.email <> ''
        RETURNING status
    """
    when, scan = _sql_values(now=now, scan_id=scan_id)
    params = (
        when,
        scan,
        *branch_params,
        OutboxEvent.ALERTS,
        f"alerts:{scan_id}:user:",
        EmailMode.DIGEST,
        OutboxStatus.HELD,
        OutboxStatus.PENDING,
        when,
        when,
    )
    rows = execute(sql, params)
    return sum(1 for (status,) in rows if status == OutboxStatus.PENDING)


def _queue_chat_messages(*, scan_id: uuid.UUID, now: datetime) -> int:
    """One message per chat channel listing the new alerts it follows, in one INSERT … SELECT;
    the message itself is built when sent (`tracker.alerts.notifications.alerts_chat`).

    `subscriptions` has a row per active channel and alert kind it follows, with its scope.
    The rule of `CHANNEL_SCOPE` (a channel scoped to the alert's project, or its department, or
    to neither: all; never two, a check constraint says) becomes disjoint equality joins, one
    per scope column and one for the unscoped channels, so matching costs hash joins, not
    alerts × channels.
    """
    subscriptions = [
        (channel.pk, *(getattr(channel, field) for field in CHANNEL_SCOPE), kind)
        for channel in Channel.objects.active().only("is_active", "events", *CHANNEL_SCOPE)
        for kind in AlertKind.values
        if channel.follows(kind)
    ]
    if not subscriptions:
        return 0
    row = f"(CAST(%s AS BIGINT), {'CAST(%s AS BIGINT), ' * len(CHANNEL_SCOPE)}CAST(%s AS TEXT))"
    scoped = [
        f"""SELECT s.channel_id, b.id FROM base AS b
            INNER JOIN subscriptions AS s ON s.kind = b.kind AND s.{field} = b.{field}"""
        for field in CHANNEL_SCOPE
    ]
    unscoped = f"""SELECT s.channel_id, b.id FROM base AS b
            INNER JOIN subscriptions AS s ON s.kind = b.kind
            WHERE {" AND ".join(f"s.{field} IS NULL" for field in CHANNEL_SCOPE)}"""
    sql = f"""
        WITH base AS (
            SELECT id, kind, {", ".join(CHANNEL_SCOPE)} FROM {Alert._meta.db_table}
            WHERE created_at = %s AND scan_id = %s
        ), subscriptions (channel_id, {", ".join(CHANNEL_SCOPE)}, kind) AS (
            VALUES {", ".join([row] * len(subscriptions))}
        ), matched AS (
            {" UNION ALL ".join([*scoped, unscoped])}
        )
        {_outbox_insert("channel_id")}
        SELECT {vendor_sql("new_uuid")}, %s, m.channel_id,
            {vendor_sql("id_list", key="alert_ids", column="m.id")},
            %s || CAST(m.channel_id AS TEXT), %s, 0, %s, '', '', '', %s
        FROM matched AS m
        GROUP BY m.channel_id
        RETURNING id
    """
    when, scan = _sql_values(now=now, scan_id=scan_id)
    params = (
        when,
        scan,
        *(value for subscription in subscriptions for value in subscription),
        OutboxEvent.ALERTS,
        f"alerts:{scan_id}:channel:",
        OutboxStatus.PENDING,
        when,
        when,
    )
    return len(execute(sql, params))  # SQLite counts no rowcount for a statement in WITH


# The daily digest -----------------------------------------------------------------------------


def alerts_digest_send(*, now: datetime) -> int:
    """Merge each person's held alert emails into one digest email. Returns digests queued.

    The held rows are locked (SKIP LOCKED), so two digests running at once split the work
    instead of sending a row twice.
    """
    with transaction.atomic():
        held = list(
            OutboxMessage.objects.filter(status=OutboxStatus.HELD)
            .select_for_update(skip_locked=True)
            .order_by("created_at")
            .values_list("pk", "recipient_id", "payload")
        )
        if not held:
            return 0
        alert_ids: dict[int, set[int]] = defaultdict(set)
        for _pk, recipient_id, payload in held:
            alert_ids[recipient_id].update(payload.get("alert_ids", []))
        run = uuid.uuid4()
        OutboxMessage.objects.bulk_create(
            OutboxMessage(
                event=OutboxEvent.DIGEST,
                recipient_id=recipient_id,
                payload={"alert_ids": sorted(ids)},
                dedupe_key=f"digest:{run}:user:{recipient_id}",
                created_at=now,
                next_attempt_at=now,
            )
            for recipient_id, ids in alert_ids.items()
        )
        pks = [pk for pk, _recipient, _payload in held]
        for start in range(0, len(pks), CHUNK):
            OutboxMessage.objects.filter(pk__in=pks[start : start + CHUNK]).update(
                status=OutboxStatus.MERGED, sent_at=now
            )
        outbox_flush_after_commit()
    return len(alert_ids)
