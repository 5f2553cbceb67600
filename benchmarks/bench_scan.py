"""The deadline scan and the weekly report at scale, and the email they set off: 1,000,000 nodes
in 2,000 projects, 1% of them newly overdue (BENCH_SCAN_NODES for a quicker try; any number).

In one throwaway database (benchmarks/harness.py), each figure against its floor, A and B in
turn, both committed, medians and ranges over BENCH_ROUNDS rounds:

- the overdue scan (episodes + alerts + the ladder's escalations + outbox rows and inbox items,
  COMMIT and the hand-off to the queue included)
  ÷ `UPDATE … RETURNING` of the same rows on a bare table: a copy of the same rows in the same
  physical order (CREATE TABLE … AS SELECT … ORDER BY id) with only the columns and the one
  index that statement needs. Between rounds (untimed) a committed UPDATE/DELETE puts both
  sides back, then VACUUM and CHECKPOINT, so every round pays for its own first writes;
- the weekly report (headline, departments, projects, worst slips) ÷ one GROUPING SETS
  statement over the same week on a bare copy of the report's columns;
- the scan for real, in a process of its own (its peak RSS), with a real Celery worker sending
  its emails to a local SMTP server (aiosmtpd): time to the last email, emails, the most any
  one recipient got, the largest email; with one worker process, then two;
- the empty rescans that follow (every minute; the every-15-minutes part).

The data is the steady state previous scans would have left: older overdue nodes inside their
lateness episodes with their alerts and escalations, nodes in the due-soon window already
reminded, and a history of resolved alerts, so the only new work is the nodes that just went
overdue: the overdue step's mark sits just before their due dates (`set_overdue_mark`). Projects
and nodes were written two days ago, but one node in a thousand half an hour ago: what the
scans' watermarks (`alerts.marks`) read again.
Usage: ``python -m benchmarks.bench_scan`` (``make bench`` runs it with the other benchmarks).
``BENCH_SCAN_PARTS`` picks the parts to run, comma-separated, of ``scan``, ``report``, ``email``
and ``rescans`` (default: all); e.g. ``BENCH_SCAN_PARTS=scan,rescans`` skips the long email runs.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.harness import (
    REPO,
    ROUNDS,
    alternate,
    bench_database,
    child_env,
    figure,
    ratio_figure,
    setup_django,
    timed,
    write_figures,
)

NODES = int(os.environ.get("BENCH_SCAN_NODES", 1_000_000))
PROJECTS = 2_000
DEPARTMENTS = 12
PEOPLE = 5_000
OWNERS = 200
PARTS = {"scan", "report", "email", "rescans"}
RUN_PARTS = set(filter(None, os.environ.get("BENCH_SCAN_PARTS", ",".join(PARTS)).split(",")))
EMAIL_WORKERS = [int(n) for n in os.environ.get("BENCH_EMAIL_WORKERS", "1,2").split(",") if n]
EMAIL_TIMEOUT_S = float(os.environ.get("BENCH_EMAIL_TIMEOUT", 420))
BEAT_SECONDS = 60  # the every-minute outbox sweep, played by this process while it waits
OPEN = ("todo", "in_progress", "blocked")
# The newly overdue nodes (bucket 0 of NODES_SQL) fell due over these last hours.
NEWLY_OVERDUE_SPAN = timedelta(hours=12, minutes=2)

# The scan's floor: the same rows, and only what the statement needs: a flag, set where the
# node is inside an open lateness episode already (judged by an earlier scan).
FLOOR_SCAN_TABLE = """
CREATE TABLE bench_floor_scan AS
SELECT m.id, m.status, m.due_at, e.started_at + interval '1 minute' AS overdue_flagged_at
FROM milestones_milestone AS m
LEFT JOIN milestones_latenessepisode AS e ON e.milestone_id = m.id AND e.ended_at IS NULL
ORDER BY m.id;
CREATE INDEX bench_floor_scan_open_unflagged ON bench_floor_scan (due_at)
    WHERE status IN ('todo', 'in_progress', 'blocked') AND overdue_flagged_at IS NULL;
"""
FLOOR_SCAN = """
UPDATE bench_floor_scan SET overdue_flagged_at = %(now)s
WHERE status IN ('todo', 'in_progress', 'blocked')
  AND overdue_flagged_at IS NULL AND due_at < %(now)s
RETURNING id
"""
FLOOR_SCAN_RESET = (
    "UPDATE bench_floor_scan SET overdue_flagged_at = NULL WHERE overdue_flagged_at = %(now)s"
)

# The report's floor: what the weekly report gives (headline, departments, projects with their
# names and thresholds, the (planned day, completion day) pairs the working-day slip is counted
# from, the worst slips with their titles and assignees) in one GROUPING SETS statement over the
# same week's rows of a bare copy (only the columns it reads, in a covering index on the
# planned due, as the node table's), the same baselined-projects filter, names joined from the
# small lookup tables (the worst slips' titles from the node table by id, as the report does).
FLOOR_REPORT_TABLE = """
CREATE TABLE bench_floor_report AS
SELECT id, project_id, department_id, status, due_at, baseline_due_at, completed_at
FROM milestones_milestone ORDER BY id;
CREATE INDEX bench_floor_report_planned ON bench_floor_report ((COALESCE(baseline_due_at, due_at)))
    INCLUDE (id, project_id, department_id, status, due_at, baseline_due_at, completed_at);
"""
FLOOR_REPORT = """
WITH week AS MATERIALIZED (
    SELECT f.id, f.department_id, f.project_id, f.status, f.planned, f.completed_at,
        f.status = 'done' AND f.completed_at > f.planned AS is_late,
        f.status <> 'done' AS is_open,
        f.status <> 'done' OR f.completed_at > f.planned AS is_deviated,
        f.finish - f.planned AS slip,
        (f.planned AT TIME ZONE %(zone)s)::date AS planned_day,
        (f.finish AT TIME ZONE %(zone)s)::date AS done_day
    FROM (
        SELECT *, COALESCE(baseline_due_at, due_at) AS planned,
            CASE WHEN status = 'done' THEN completed_at ELSE %(as_of)s END AS finish
        FROM bench_floor_report
        WHERE status <> 'cancelled' AND COALESCE(baseline_due_at, due_at) >= %(start)s
          AND COALESCE(baseline_due_at, due_at) < %(end)s
          AND COALESCE(baseline_due_at, due_at) <= %(as_of)s
    ) AS f
    JOIN projects_project AS p ON p.id = f.project_id AND p.baselined_at IS NOT NULL
), grouped AS (
    SELECT GROUPING(department_id, project_id, planned_day, done_day) AS grouping_set,
        department_id, project_id, planned_day, done_day, count(*),
        count(*) FILTER (WHERE is_late), count(*) FILTER (WHERE is_open),
        avg(slip) FILTER (WHERE is_deviated), count(*) FILTER (WHERE is_deviated)
    FROM week GROUP BY GROUPING SETS ((), (department_id), (project_id), (planned_day, done_day))
)
SELECT grouped.*, p.name, p.deviation_threshold, d.code, d.name,
    NULL::bigint, NULL::varchar, NULL::timestamptz, NULL::timestamptz, NULL::interval,
    NULL::varchar, NULL::varchar
FROM grouped
LEFT JOIN projects_project AS p ON p.id = grouped.project_id AND grouped.grouping_set = 11
LEFT JOIN accounts_department AS d ON d.id = grouped.department_id AND grouped.grouping_set = 7
UNION ALL (
    SELECT NULL, worst.department_id, worst.project_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, worst.id, worst.status, worst.planned, worst.completed_at,
        worst.slip, node.title, u.username
    FROM (SELECT * FROM week WHERE is_deviated ORDER BY slip DESC, id LIMIT 10) AS worst
    JOIN milestones_milestone AS node ON node.id = worst.id
    LEFT JOIN accounts_user AS u ON u.id = node.assignee_id
)
"""

NODES_SQL = """
WITH ids AS (
    SELECT
        (SELECT array_agg(id ORDER BY id) FROM projects_project) AS projects,
        (SELECT array_agg(id ORDER BY id) FROM accounts_department) AS departments,
        (SELECT array_agg(id ORDER BY id) FROM accounts_user
          WHERE username LIKE 'bench-person-%%') AS people
), spread AS (
    SELECT g, g %% 100 AS b, ((g::bigint * 7919) %% 10007) / 10007.0 AS r
    FROM generate_series(1, %(nodes)s) AS g
), fate AS (
    SELECT g, b, r,
        CASE
            WHEN b = 0 THEN %(now)s - interval '1 minute' - r * interval '12 hours'
            WHEN b IN (1, 2) THEN %(now)s - interval '12 hours' - r * interval '30 days'
            WHEN b = 3 THEN %(now)s + interval '1 minute' + r * interval '23 hours'
            WHEN b BETWEEN 4 AND 59 THEN %(now)s - interval '1 day' - r * interval '365 days'
            WHEN b IN (60, 61) THEN %(now)s - r * interval '200 days'
            ELSE %(now)s + interval '1 day' + r * interval '180 days'
        END AS due,
        CASE
            WHEN b IN (1, 2) THEN 'in_progress'
            WHEN b BETWEEN 4 AND 59 THEN 'done'
            WHEN b IN (60, 61) THEN 'cancelled'
            ELSE 'todo'
        END AS status
    FROM spread
)
INSERT INTO milestones_milestone (
    created_at, updated_at, title, description, due_at, baseline_due_at, status, completed_at,
    position, version, template_key, assignee_id, department_id, project_id,
    added_after_baseline, on_critical_path
)
SELECT %(now)s - interval '30 days',
    -- written two days ago, but one node in a thousand half an hour ago (a title, a note)
    %(now)s - CASE WHEN g %% 1000 = 999 THEN interval '30 minutes' ELSE interval '2 days' END,
    'Node ' || g, '', due, NULL, status,
    CASE WHEN status = 'done'
         THEN due + CASE WHEN r < 0.9 THEN interval '-1 hour' ELSE interval '1 day' END END,
    g, 1, '',  -- positions: unique, whatever the lanes
    ids.people[(g + g / 100) %% %(people)s + 1],  -- g / 100: each bucket meets everyone
    ids.departments[(g + g / 100) %% %(departments)s + 1],
    -- consecutive runs of nodes per project, for any number of nodes
    ids.projects[((g - 1)::bigint * %(projects)s) / %(nodes)s + 1],
    false, false
FROM fate, ids
"""

ALERTS_SQL = """
INSERT INTO alerts_alert (
    milestone_id, project_id, department_id, kind, due_at, created_at, resolved_at,
    escalated_at, scan_id
)
SELECT id, project_id, department_id, kind, due_at, created, resolved,
    CASE WHEN kind = 'overdue' AND due_at < %(now)s - interval '48 hours'
         THEN due_at + interval '49 hours' END,
    gen_random_uuid()
FROM (
    -- reminders already sent: the due-soon window, and the nodes that just went overdue
    SELECT id, project_id, department_id, 'due_soon' AS kind, due_at,
           due_at - interval '20 hours' AS created, NULL::timestamptz AS resolved
    FROM milestones_milestone WHERE status = 'todo' AND due_at <= %(now)s + interval '24 hours'
    UNION ALL  -- older overdue nodes: alerted, and escalated after 48 hours
    SELECT id, project_id, department_id, 'overdue', due_at, due_at + interval '1 minute', NULL
    FROM milestones_milestone WHERE status = 'in_progress'
    UNION ALL
    SELECT id, project_id, department_id, 'escalation', due_at, due_at + interval '49 hours', NULL
    FROM milestones_milestone
    WHERE status = 'in_progress' AND due_at < %(now)s - interval '48 hours'
    UNION ALL  -- history: nodes that were overdue, then done late
    SELECT id, project_id, department_id, 'overdue', due_at, due_at + interval '1 minute',
        completed_at
    FROM milestones_milestone WHERE status = 'done' AND completed_at > due_at
    UNION ALL
    SELECT id, project_id, department_id, 'resolved', due_at, completed_at, completed_at
    FROM milestones_milestone WHERE status = 'done' AND completed_at > due_at
) AS steady_state
"""


# The older overdue nodes' lateness episodes, as the ladder's earlier scans left them: started
# at the due date, every rung and nudge slot reached (docs/escalation.md), so the ladder steps
# read them and find nothing to do, as in a steady state.
EPISODES_SQL = """
INSERT INTO milestones_latenessepisode (
    milestone_id, project_id, started_at, started_due_at, ended_at, rung, nudges, promised_at,
    snoozed_until, scan_id
)
SELECT id, project_id, due_at, due_at, NULL, 4, 20, NULL, NULL, gen_random_uuid()
FROM milestones_milestone WHERE status = 'in_progress'
"""


def generate(now) -> dict[str, int]:
    """Fill the database: people, departments, projects, the nodes, their alerts; then the
    floors' bare copies of the same rows in the same order."""
    from django.db import connection

    from tracker.accounts.models import Department, User
    from tracker.notifications.models import DIGESTIBLE_KINDS, Channel, NotificationPreference
    from tracker.projects.models import Project, ProjectStatus

    User.objects.bulk_create(
        [
            User(
                username=f"bench-{role}-{i}",
                email=f"bench-{role}-{i}@example.com",
                password="!",
                language="zh-hans" if i % 5 == 0 else "en",
            )
            for role, count in (("lead", DEPARTMENTS), ("owner", OWNERS), ("person", PEOPLE))
            for i in range(count)
        ],
        batch_size=2000,
    )
    # One person in ten wants every alert email in the daily digest.
    digest = [
        f"bench-{role}-{i}"
        for role, count in (("lead", DEPARTMENTS), ("owner", OWNERS), ("person", PEOPLE))
        for i in range(0, count, 10)
    ]
    NotificationPreference.objects.bulk_create(
        [
            NotificationPreference(user_id=pk, kind=kind, channel="email", delivery="digest")
            for pk in User.objects.filter(username__in=digest).values_list("pk", flat=True)
            for kind in DIGESTIBLE_KINDS
        ],
        batch_size=2000,
    )
    leads = list(User.objects.filter(username__startswith="bench-lead-").order_by("pk"))
    owners = list(User.objects.filter(username__startswith="bench-owner-").order_by("pk"))
    departments = Department.objects.bulk_create(
        Department(name=f"Department {i}", code=f"d{i}", lead=lead) for i, lead in enumerate(leads)
    )
    projects = Project.objects.bulk_create(
        [
            Project(
                name=f"Campaign {i}",
                kind="campaign",
                d_day=now,
                owner=owners[i % OWNERS],
                status=ProjectStatus.ACTIVE,
                baselined_at=now - timedelta(days=400),  # before every node: all are reported
                # Around the clock (a war room over the whole data set), so the windows are the
                # plain hours the steady state above was generated with, whatever the clock.
                war_room=True,
                war_room_days_before=7300,
                war_room_days_after=7300,
            )
            for i in range(PROJECTS)
        ],
        batch_size=2000,
    )
    # Chat channels on a closed loopback port: they cost the worker a refused connection each,
    # never a wait on the network.
    for i, project in enumerate(projects[:20]):
        Channel.objects.create(
            name=f"war room {i}",
            kind="webhook",
            url=f"http://127.0.0.1:9/bench/{i}",
            project=project,
            events=["overdue", "escalation"],
        )
    Channel.objects.create(
        name="department 0",
        kind="webhook",
        url="http://127.0.0.1:9/bench/d0",
        department=departments[0],
        events=["overdue"],
    )
    params = {
        "now": now,
        "nodes": NODES,
        "projects": PROJECTS,
        "departments": DEPARTMENTS,
        "people": PEOPLE,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE projects_project SET created_at = %(now)s - interval '30 days',"
            " updated_at = %(now)s - interval '2 days'",
            params,
        )
        cursor.execute(NODES_SQL, params)
        cursor.execute(ALERTS_SQL, params)
        cursor.execute(EPISODES_SQL, params)
        cursor.execute("SELECT count(*) FROM alerts_alert")
        alerts = cursor.fetchone()[0]
        cursor.execute(FLOOR_SCAN_TABLE)
        cursor.execute(FLOOR_REPORT_TABLE)
    set_overdue_mark(now)
    vacuum()
    return {"alerts_before": alerts}


def vacuum() -> None:
    """Tidy up after a round (never timed): dead rows gone, statistics fresh, and the dirty
    pages written, so each round writes its own full-page images as a scan after a checkpoint
    does, rather than riding on another round's."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE milestones_milestone, milestones_latenessepisode, alerts_alert,"
            " alerts_outboxmessage, notifications_inboxitem, accounts_user, projects_project,"
            " accounts_department,"
            " bench_floor_scan, bench_floor_report"
        )
        cursor.execute("CHECKPOINT")


def undo_scan(now) -> None:
    """Put back what a scan as of `now` wrote (committed, untimed): its episodes, alerts, outbox
    rows and inbox items, and the overdue step's mark; the bare table's flags too."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM alerts_outboxmessage WHERE created_at = %s", [now])
        cursor.execute("DELETE FROM notifications_inboxitem WHERE created_at = %s", [now])
        cursor.execute(  # the episodes the scan started: their first rung is its overdue alert
            "DELETE FROM milestones_latenessepisode WHERE id IN (SELECT episode_id"
            " FROM alerts_alert WHERE created_at = %s AND kind = 'overdue')",
            [now],
        )
        cursor.execute("DELETE FROM alerts_alert WHERE created_at = %s", [now])
        cursor.execute(FLOOR_SCAN_RESET, {"now": now})
    set_overdue_mark(now)


def set_overdue_mark(now) -> None:
    """The overdue step's mark as the previous every-minute scan left it: just before the newly
    overdue nodes went past due (as if 12 hours of deadlines fell due in this minute), so the
    scan reads the same 10,000 nodes the floor's partial index gives it."""
    from tracker.alerts.models import ScanMark
    from tracker.alerts.services import OVERDUE_MARK

    ScanMark.objects.update_or_create(
        name=OVERDUE_MARK, defaults={"scanned_at": now - NEWLY_OVERDUE_SPAN}
    )


def floor_scan(now) -> int:
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit: the statement commits
        cursor.execute(FLOOR_SCAN, {"now": now})
        return len(cursor.fetchall())


def scan(now, *, overdue=True, due_soon=False):
    from tracker.alerts.services import ScanLock, alerts_scan

    return alerts_scan(now=now, overdue=overdue, due_soon=due_soon, lock=ScanLock.NONE)


def measure_scan(now, data: dict) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracker.notifications.models import OutboxMessage

    floor_ms: list[float] = []
    scan_ms: list[float] = []
    seen: dict = {}

    def floor_side():
        with timed(floor_ms):
            seen["floor_rows"] = floor_scan(now)

    def scan_side():
        with timed(scan_ms):
            seen["result"] = scan(now)
        seen["outbox_rows"] = OutboxMessage.objects.filter(created_at=now).count()

    def reset():
        undo_scan(now)
        vacuum()

    alternate(ROUNDS, floor_side, scan_side, between=reset)
    result = seen["result"]
    ratio_figure(
        f"overdue scan, {NODES:,} nodes, {seen['floor_rows']:,} newly overdue"
        " (commit included) / bare-table UPDATE ... RETURNING",
        scan_ms,
        floor_ms,
        target="<= 1.5",
        a_name="scan",
        b_name="floor",
    )
    print(
        f"      the scan: {result.overdue:,} overdue, {result.escalated} escalated,"
        f" {result.messages:,} messages to send now, {seen['outbox_rows']:,} outbox rows"
    )
    # Where one scan spends its time, statement by statement.
    with CaptureQueriesContext(connection) as captured:
        scan(now)
    reset()
    data["scan"] = {
        "result": result.as_dict(),
        "outbox_rows": seen["outbox_rows"],
        "scan_ms": scan_ms,
        "floor_ms": floor_ms,
        "statements_ms": [
            (round(float(q["time"]) * 1000, 1), " ".join(q["sql"].split())[:120])
            for q in captured
            if float(q["time"]) >= 0.002
        ],
    }
    for ms, sql in data["scan"]["statements_ms"]:
        print(f"      {ms:8.1f} ms  {sql[:90]}")


def measure_report(now, data: dict) -> None:
    from django.db import connection
    from django.utils import timezone

    from tracker.reports.periods import week_period
    from tracker.reports.services import report_compute

    period = week_period(timezone.localtime(now))
    params = {
        "start": period.start,
        "end": period.end,
        "as_of": now,
        "zone": str(timezone.get_current_timezone()),
    }
    report_ms: list[float] = []
    floor_ms: list[float] = []
    seen: dict = {}

    def report_side():
        with timed(report_ms):
            seen["report"] = report_compute(period=period, as_of=now)

    def floor_side():
        with timed(floor_ms), connection.cursor() as cursor:
            cursor.execute(FLOOR_REPORT, params)
            seen["groups"] = len(cursor.fetchall())

    alternate(ROUNDS, report_side, floor_side)
    report = seen["report"]
    ratio_figure(
        f"weekly report over {NODES:,} nodes ({report['due_count']:,} due this week)"
        " / one GROUPING SETS statement",
        report_ms,
        floor_ms,
        target="<= 2",
        a_name="report",
        b_name="floor",
    )
    data["report"] = {"report_ms": report_ms, "floor_ms": floor_ms, "due": report["due_count"]}


# Email: a real worker, a real SMTP server -----------------------------------------------------


def start_worker(env: dict[str, str], processes: int, log: Path) -> subprocess.Popen:
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    handle = log.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(processes),
            "-Q",
            queue,
            "-n",
            f"{queue}-{processes}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process `pid` and its children (the worker
    and its pool), read from /proc; None where there is no /proc."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for each in [str(pid), *children]:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def scan_in_child(env: dict[str, str], now: datetime) -> dict:
    """The every-minute scan as of `now`, committed, in a process of its own: its peak RSS is
    the scan's, and its flush tasks go to the real broker."""
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scan", "--scan-once", now.isoformat()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def scan_once(moment: str) -> None:
    """`--scan-once`: run in the child (see scan_in_child)."""
    setup_django()
    from django.utils.dateparse import parse_datetime

    now = parse_datetime(moment)
    started = time.perf_counter()
    result = scan(now)
    ms = (time.perf_counter() - started) * 1000
    committed_at = time.time()
    print(
        json.dumps(
            {
                "result": result.as_dict(),
                "ms": ms,
                "committed_at": committed_at,
                "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def measure_email(now, data: dict) -> None:
    """The committed scan's emails, sent by a real `celery worker` with each process count of
    EMAIL_WORKERS to an SMTP server in a process of its own (benchmarks/smtp_sink.py), so that
    neither this process nor the worker shares an interpreter with it. Timed from the scan's
    COMMIT to the last email received; emails/s per worker process is the figure
    docs/scaling.md extrapolates from."""
    from celery import Celery
    from django.db.models import Count

    from benchmarks.smtp_sink import SmtpSink
    from tracker.notifications.models import OutboxMessage, OutboxStatus

    broker = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL")
    if not broker:
        print("      email: skipped (set REDIS_URL or BENCH_REDIS_URL for the worker's broker)")
        return
    sink = SmtpSink()
    queue = f"bench-{os.getpid()}"
    env = child_env(
        CELERY_BROKER_URL=broker,
        REDIS_URL=broker,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(sink.port),
        SITE_URL="https://milepost.example.com",
        ALERTS_AT_ANY_HOUR="true",
    )
    beat = Celery("bench-beat", broker=broker)
    emails = OutboxMessage.objects.filter(created_at=now, recipient__isnull=False)
    unsent = emails.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING])
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="milepost-bench-worker-") as folder:
            for processes in EMAIL_WORKERS:
                sink.reset()
                worker = start_worker(env, processes, Path(folder) / f"worker-{processes}.log")
                try:
                    cpu_at_start = process_tree_cpu(worker.pid)
                    child = scan_in_child(env, now)
                    next_sweep = time.monotonic() + BEAT_SECONDS
                    deadline = time.monotonic() + EMAIL_TIMEOUT_S
                    while unsent.exists() and time.monotonic() < deadline:
                        if time.monotonic() >= next_sweep:
                            beat.send_task("notifications.outbox_flush", queue=queue)
                            next_sweep += BEAT_SECONDS
                        time.sleep(0.25)
                    finished = not unsent.exists()
                    time.sleep(0.5)  # the last answer may still be on its way to the counters
                    statuses = dict(emails.values_list("status").annotate(n=Count("id")).order_by())
                    inbox = sink.stats()
                    cpu_at_end = process_tree_cpu(worker.pid)
                finally:
                    stop_worker(worker)
                seconds = (
                    (inbox["last_at"] - child["committed_at"])
                    if finished and inbox["messages"]
                    else EMAIL_TIMEOUT_S
                )
                runs.append(
                    {
                        "processes": processes,
                        "seconds": seconds,
                        "finished": finished,
                        "delivered": inbox["messages"],
                        "connections": inbox["connections"],
                        "max_per_recipient": inbox["max_per_recipient"],
                        "largest_bytes": inbox["largest_bytes"],
                        "statuses": statuses,
                        "scan": child,
                        "worker_cpu_s": None
                        if cpu_at_start is None or cpu_at_end is None
                        else cpu_at_end - cpu_at_start,
                    }
                )
                undo_scan(now)
                vacuum()
    finally:
        sink.stop()
    data["email"] = runs
    for run in runs:
        note = "" if run["finished"] else f", NOT finished in {EMAIL_TIMEOUT_S:.0f} s"
        figure(
            f"{run['scan']['result']['overdue']:,} alerts -> emails delivered by a Celery worker"
            f" ({run['processes']} process{'es' if run['processes'] > 1 else ''})",
            [run["seconds"]],
            unit=" s",
            target="<= 20",
            detail=f"{run['delivered']:,} emails over {run['connections']:,} SMTP connections"
            f"{note}; outbox {run['statuses']}",
        )
    first = runs[0]
    figure(
        "emails per recipient per scan (most any one recipient got)",
        [max(run["max_per_recipient"] for run in runs)],
        unit="",
        target="<= 1",
    )
    figure(
        "largest single email",
        [first["largest_bytes"] / 1024],
        unit=" KB",
        target="<= 100",
    )
    figure(
        "scan process peak RSS (the committed scan, in a process of its own)",
        [run["scan"]["max_rss_mib"] for run in runs],
        unit=" MiB",
        target="< 150",
    )
    for run in runs:
        throughput = run["delivered"] / run["seconds"] if run["seconds"] else 0
        figure(
            f"email delivery throughput, {run['processes']} worker process(es)",
            [throughput],
            unit=" emails/s",
            target=None,
            detail=f"{run['delivered']:,} emails in {run['seconds']:.1f} s,"
            f" {throughput / run['processes']:.1f} emails/s per worker process"
            + ("" if run["finished"] else " (not finished)"),
        )
    for run in runs:
        # What a machine's load does not change: the worker's own CPU time per email, whence
        # the rate of one process with a core of its own (docs/scaling.md).
        if run["worker_cpu_s"] and run["delivered"]:
            per_email_ms = run["worker_cpu_s"] * 1000 / run["delivered"]
            figure(
                f"worker CPU time per email, {run['processes']} worker process(es)",
                [per_email_ms],
                unit=" ms",
                target=None,
                detail=f"{run['worker_cpu_s']:.1f} CPU s in all; a process with a core of its"
                f" own: about {1000 / per_email_ms:.0f} emails/s",
            )


def statements(captured) -> list[tuple[float, str]]:
    """Each statement of a captured run: its milliseconds and its first 120 characters."""
    return [(round(float(q["time"]) * 1000, 2), " ".join(q["sql"].split())[:120]) for q in captured]


def measure_rescans(now, data: dict) -> None:
    """The scans that find nothing new, right after a committed scan of both parts (kept this
    time): every minute, and every 15 minutes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracker.alerts.models import Alert

    scan(now, overdue=True, due_soon=True)
    floor_scan(now)
    vacuum()
    times: dict[str, list[float]] = {"minute": [], "quarter": [], "floor": []}
    # This process's CPU time per run (ms): what a loaded machine swings less than wall time.
    cpu: dict[str, list[float]] = {"minute": [], "quarter": []}

    def minute():
        started = time.process_time()
        with timed(times["minute"]):
            empty = scan(now)
        cpu["minute"].append((time.process_time() - started) * 1000)
        assert not (empty.overdue or empty.escalated or empty.messages), empty

    def quarter():
        started = time.process_time()
        with timed(times["quarter"]):
            empty = scan(now, overdue=False, due_soon=True)
        cpu["quarter"].append((time.process_time() - started) * 1000)
        assert not (empty.due_soon or empty.resolved or empty.messages), empty

    def floor():
        with timed(times["floor"]):
            assert floor_scan(now) == 0

    alternate(max(ROUNDS, 5), minute, floor, quarter)
    open_alerts = Alert.objects.filter(resolved_at__isnull=True).count()
    figure(
        f"empty every-minute rescan, {NODES:,} nodes",
        times["minute"],
        unit=" ms",
        target="<= 5",
        detail="floor (bare-table UPDATE finding nothing)"
        f" {statistics.median(times['floor']):.2f} ms; client CPU"
        f" {statistics.median(cpu['minute']):.1f} ms",
    )
    figure(
        f"every-15-minutes part (due soon, resolution), {open_alerts:,} open alerts",
        times["quarter"],
        unit=" ms",
        target="<= 30",
        detail=f"client CPU {statistics.median(cpu['quarter']):.1f} ms",
    )
    # Where an empty rescan spends its time, statement by statement.
    breakdown = {}
    for name, parts in (("minute", {}), ("quarter", {"overdue": False, "due_soon": True})):
        with CaptureQueriesContext(connection) as captured:
            scan(now, **parts)
        breakdown[name] = statements(captured)
        print(f"      {name} rescan, statement by statement ({len(captured)} statements):")
        for ms, sql in breakdown[name]:
            print(f"      {ms:8.2f} ms  {sql[:90]}")
    data["rescans"] = {
        **times,
        "cpu_ms": cpu,
        "open_alerts": open_alerts,
        "statements_ms": breakdown,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--scan-once"]:
        scan_once(argv[1])
        return
    os.environ.setdefault("ALERTS_AT_ANY_HOUR", "true")  # nothing held for quiet hours
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    unknown = RUN_PARTS - PARTS
    if unknown:
        sys.exit(f"BENCH_SCAN_PARTS: unknown part(s) {', '.join(sorted(unknown))}")
    setup_django()
    from django.utils import timezone

    from config.celery import app

    app.conf.broker_url = "memory://"  # the in-process scans' "flush the outbox" goes nowhere
    data: dict = {"nodes": NODES}
    with bench_database("scan"):
        now = timezone.now()
        started = time.perf_counter()
        data.update(generate(now))
        data["generation_s"] = time.perf_counter() - started
        print(
            f"      {NODES:,} nodes in {PROJECTS:,} projects generated in"
            f" {data['generation_s']:.0f} s; {data['alerts_before']:,} alerts already there",
            flush=True,
        )
        for part, measure in (
            ("scan", measure_scan),
            ("report", measure_report),
            ("email", measure_email),
            ("rescans", measure_rescans),
        ):
            if part in RUN_PARTS:
                measure(now, data)
    write_figures(data)


if __name__ == "__main__":
    main(sys.argv[1:])
