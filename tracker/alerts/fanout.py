"""Fan-out: the alerts a scan raised become outbox rows, one email per person listing all their
new alerts (the kinds they want in the daily digest held for it, the kinds they switched off
left out) and one message per chat channel that follows them, and an in-app inbox item per
person and alert, each in one INSERT … SELECT. A worker sends the messages after commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Model

from tracker.accounts.models import User
from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.sql import (
    Names,
    db_params,
    execute,
    scan_params,
    vendor_sql,
    without_nested_loops,
)
from tracker.notifications.models import (
    CHANNEL_SCOPE,
    Channel,
    Delivery,
    InboxItem,
    NotificationPreference,
    OutboxEvent,
    OutboxMessage,
    OutboxStatus,
    PreferenceChannel,
)
from tracker.notifications.services import outbox_flush_after_commit
from tracker.projects.models import Project


class Role:
    """Who hears about a node."""

    ASSIGNEE = "assignee"  # the assignee, or the department lead when nobody is assigned
    LEAD = "lead"  # the department lead
    OWNER = "owner"  # the project owner
    CONTACT = "contact"  # the project's escalation contact, else the organisation's


# The ladder (docs/escalation.md): the assignee at overdue and for every nudge, then the lead,
# the owner and the escalation contact, one rung each.
RECIPIENTS: dict[str, tuple[str, ...]] = {
    AlertKind.DUE_SOON: (Role.ASSIGNEE,),
    AlertKind.OVERDUE: (Role.ASSIGNEE,),
    AlertKind.NUDGE: (Role.ASSIGNEE,),
    AlertKind.ESCALATION: (Role.LEAD,),
    AlertKind.ESCALATION_OWNER: (Role.OWNER,),
    AlertKind.ESCALATION_CONTACT: (Role.CONTACT,),
    AlertKind.FORECAST_SLIP: (Role.ASSIGNEE, Role.LEAD),
    AlertKind.D_DAY_AT_RISK: (Role.OWNER,),
    # AlertKind.RESOLVED goes to whoever was told about the overdue or escalation it closes.
}
# Each role as a field of an alert `a` (which copied its node's people when raised) or of its
# project `p`.
ROLE_FIELD: dict[str, tuple[str, type[Model], str]] = {
    Role.ASSIGNEE: ("a", Alert, "notify_assignee"),
    Role.LEAD: ("a", Alert, "notify_lead"),
    Role.OWNER: ("p", Project, "owner"),
    Role.CONTACT: ("p", Project, "escalation_contact"),
}


def default_contact_id() -> int | None:
    """The organisation's escalation contact (`ESCALATION_CONTACT`, a username), if any."""
    username = settings.ESCALATION_CONTACT
    if not username:
        return None
    return (
        User.objects.filter(username=username, is_active=True).values_list("pk", flat=True).first()
    )


def fan_out(*, scan_id: uuid.UUID, now: datetime) -> int:
    """Outbox rows for the alerts this scan raised; returns how many are to be sent now."""
    with without_nested_loops():
        emails = _queue_emails(scan_id=scan_id, now=now)
        chats = _queue_chat_messages(scan_id=scan_id, now=now)
    if emails or chats:
        outbox_flush_after_commit(emails + chats)
    return emails + chats


def _outbox_insert(destination: str) -> str:
    """The head of the fan-outs' INSERT … SELECT: every column, in the order they select."""
    o = Names(OutboxMessage)
    fields = ("id", "event", destination, "payload", "dedupe_key", "status", "attempts")
    rest = ("next_attempt_at", "last_error", "subject", "response", "created_at")
    return f"INSERT INTO {o.table} ({', '.join(getattr(o, field) for field in (*fields, *rest))})"


def _recipients_sql() -> tuple[str, list]:
    """The CTEs `base` and `pairs` both person fan-outs (email and inbox) start from: who hears
    about which alert of this scan, one home for RECIPIENTS.

    `base` reads each new alert with the people it copied from its node; `pairs` is one SELECT
    per role of RECIPIENTS, joined by UNION (which drops the duplicate when the assignee is the
    lead); a resolution goes to whoever was told about the problem it closes. Its parameters
    start with the scan's (`scan_params`).
    """
    a, p, told = Names(Alert), Names(Project), Names(Alert)
    role_sql = {
        role: f"{alias}.{getattr(Names(model), field)}"
        for role, (alias, model, field) in ROLE_FIELD.items()
    }
    contact = default_contact_id()
    if contact is not None:  # an id read from the database: an integer, safe to inline
        role_sql[Role.CONTACT] = f"COALESCE({role_sql[Role.CONTACT]}, {int(contact)})"
    branches, branch_params = [], []
    for role in ROLE_FIELD:
        kinds = [kind for kind, roles in RECIPIENTS.items() if role in roles]
        closes = [kind for kind in kinds if kind != AlertKind.DUE_SOON] or [""]
        branches.append(
            f"SELECT id, project_id, milestone_id, kind, {role} AS to_user FROM base"
            f" WHERE {role} IS NOT NULL AND ("
            f"kind IN ({', '.join(['%s'] * len(kinds))}) OR (kind = %s AND EXISTS ("
            f"SELECT 1 FROM {told.table} AS told WHERE told.{told.milestone} = base.milestone_id"
            f" AND told.{told.due_at} = base.due_at"
            f" AND told.{told.kind} IN ({', '.join(['%s'] * len(closes))})"
            ")))"
        )
        branch_params += [*kinds, AlertKind.RESOLVED, *closes]
    sql = f"""
        WITH base AS MATERIALIZED (
            SELECT a.{a.id} AS id, a.{a.kind} AS kind, a.{a.project} AS project_id,
                a.{a.milestone} AS milestone_id, a.{a.due_at} AS due_at,
                {", ".join(f"{column} AS {role}" for role, column in role_sql.items())}
            FROM {a.table} AS a
            INNER JOIN {p.table} AS p ON p.{p.id} = a.{a.project}
            WHERE a.{a.created_at} = %s AND a.{a.scan_id} = %s
        ), pairs AS (
            {" UNION ".join(branches)}
        )"""
    return sql, branch_params


def _queue_emails(*, scan_id: uuid.UUID, now: datetime) -> int:
    """One email per person listing all their new alerts, in one INSERT … SELECT … GROUP BY
    (per the person's preferences), and the inbox items (`_inbox_sql`) from the same pairs:
    on PostgreSQL in the same statement (a data-modifying CTE, so the scan's alerts and their
    people are read once), on SQLite (no such CTE) in a statement of their own after it.
    Returns the emails to send now.

    From `_recipients_sql`'s pairs, `chosen` gives each pair the person's email delivery of
    the alert's kind (`NotificationPreference`: immediately when they chose nothing), and the
    project when they muted it; `lists` groups them by person and delivery, leaving out the
    kinds switched off: one email now, and one row held for the digest with the kinds they
    want in it. Alerts of a muted project are held too, one row per project marked
    `muted_project`: the first digest after the person unmutes it sends them (`digest`), none
    is dropped. Inactive people and people without an email address are skipped.
    """
    u = Names(User)
    pref = Names(NotificationPreference)
    muted = Names(User.muted_projects.through)
    muted_list = vendor_sql("muted_list", key="alert_ids", column="c.id", project="c.muted_project")
    recipients, branch_params = _recipients_sql()
    inbox, inbox_params = _inbox_sql(now=now)
    together = connection.vendor == "postgresql"
    chosen = f"""chosen AS (
            SELECT r.id, r.to_user, COALESCE(pref.{pref.delivery}, %s) AS delivery,
                muted.{muted.project} AS muted_project
            FROM pairs AS r
            LEFT JOIN {pref.table} AS pref ON pref.{pref.user} = r.to_user
                AND pref.{pref.kind} = r.kind AND pref.{pref.channel} = %s
            LEFT JOIN {muted.table} AS muted ON muted.{muted.user} = r.to_user
                AND muted.{muted.project} = r.project_id
        ), lists AS (
            SELECT c.to_user,
                CASE WHEN c.muted_project IS NULL THEN c.delivery ELSE %s END AS delivery,
                c.muted_project,
                CASE WHEN c.muted_project IS NULL
                    THEN {vendor_sql("id_list", key="alert_ids", column="c.id")}
                    ELSE {muted_list}
                END AS payload
            FROM chosen AS c
            WHERE c.delivery <> %s
            GROUP BY c.to_user, CASE WHEN c.muted_project IS NULL THEN c.delivery ELSE %s END,
                c.muted_project
        )"""
    sql = f"""
        {recipients}, {f"inbox AS ({inbox})," if together else ""} {chosen}
        {_outbox_insert("recipient_id")}
        SELECT {vendor_sql("new_uuid")}, %s, l.to_user, l.payload,
            %s || CAST(l.to_user AS TEXT) || CASE WHEN l.delivery = %s THEN ':digest' ELSE '' END
                || COALESCE(':muted:' || CAST(l.muted_project AS TEXT), ''),
            CASE WHEN l.delivery = %s THEN %s ELSE %s END, 0, %s, '', '', '', %s
        FROM lists AS l
        INNER JOIN {u.table} AS u ON u.{u.id} = l.to_user
        WHERE u.{u.is_active} AND u.{u.email} <> ''
        RETURNING status
    """
    when, scan = scan_params(now=now, scan_id=scan_id)
    params = (
        when,
        scan,
        *branch_params,
        *(inbox_params if together else ()),
        Delivery.IMMEDIATE,
        PreferenceChannel.EMAIL,
        Delivery.DIGEST,
        Delivery.OFF,
        Delivery.DIGEST,
        OutboxEvent.ALERTS,
        f"alerts:{scan_id}:user:",
        Delivery.DIGEST,
        Delivery.DIGEST,
        OutboxStatus.HELD,
        OutboxStatus.PENDING,
        when,
        when,
    )
    rows = execute(sql, params)
    if not together:
        execute(f"{recipients} {inbox}", (when, scan, *branch_params, *inbox_params))
    return sum(1 for (status,) in rows if status == OutboxStatus.PENDING)


def _inbox_sql(*, now: datetime) -> tuple[str, tuple]:
    """The inbox items' INSERT … SELECT from `_recipients_sql`'s pairs, and its parameters: an
    item per person and new alert, at once whatever their email delivery (a digest reader sees
    it now), leaving out those who switched the kind off in the app or are inactive. A muted
    project's alerts are in the inbox too (issue 18: muting silences the emails, it drops
    nothing). The alerts are this scan's, so each item is new (no ON CONFLICT)."""
    u, pref, item = Names(User), Names(NotificationPreference), Names(InboxItem)
    columns = ("recipient", "kind", "project", "milestone", "alert", "text", "created_at")
    sql = f"""
        INSERT INTO {item.table} ({", ".join(getattr(item, column) for column in columns)})
        SELECT r.to_user, r.kind, r.project_id, r.milestone_id, r.id, '', %s
        FROM pairs AS r
        INNER JOIN {u.table} AS u ON u.{u.id} = r.to_user
        WHERE u.{u.is_active} AND NOT EXISTS (
            SELECT 1 FROM {pref.table} AS pref WHERE pref.{pref.user} = r.to_user
                AND pref.{pref.kind} = r.kind AND pref.{pref.channel} = %s
                AND pref.{pref.delivery} = %s
        )
    """
    (when,) = db_params((InboxItem._meta.get_field("created_at"), now))
    return sql, (when, PreferenceChannel.IN_APP, Delivery.OFF)


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
    a = Names(Alert)
    scope_columns = ", ".join(f"{getattr(a, field)} AS {field}" for field in CHANNEL_SCOPE)
    sql = f"""
        WITH base AS (
            SELECT {a.id} AS id, {a.kind} AS kind, {scope_columns} FROM {a.table}
            WHERE {a.created_at} = %s AND {a.scan_id} = %s
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
    when, scan = scan_params(now=now, scan_id=scan_id)
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
