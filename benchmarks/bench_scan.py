"""The deadline scan at scale: 1,000,000 nodes in 2,000 projects, 10,000 of them newly overdue.

Measures, in one run and one throwaway PostgreSQL database:

- one scan (flag + alerts + outbox rows), repeated;
- the same flagging done by one hand-written SQL UPDATE, repeated;
- the scan that then finds nothing new (the every-minute case);
- the peak memory of the scanning process.

Each timed run checks its deferred constraints (the foreign-key checks COMMIT would run) inside
the timing and is then rolled back, after which the tables are vacuumed and checkpointed, so
every run starts from the very same table and pays for its own first writes to each page.
(Committing and then undoing with a second UPDATE moves the 10,000 rows to new pages each time:
the table alternates between two layouts and the same statement between two timings, ±50%.)

The data is the steady state previous scans would have left: older overdue nodes flagged with
their alerts and escalations, nodes in the due-soon window already reminded, and a history of
resolved alerts, so the only new work is the 10,000 nodes that just went overdue.
Usage: ``python -m benchmarks.bench_scan`` (``make bench`` runs it with the other benchmarks).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

NODES = int(os.environ.get("BENCH_SCAN_NODES", 1_000_000))  # smaller for a quick try
PROJECTS = 2_000
DEPARTMENTS = 12
PEOPLE = 5_000
OWNERS = 200
NEWLY_OVERDUE = NODES // 100  # bucket 0 of 100
RUNS = 9  # each kind of run; medians, since a shared machine's speed wanders by ±20%
RESCANS = 5

RAW_UPDATE = """
UPDATE milestones_milestone SET overdue_flagged_at = %(now)s
WHERE status IN ('todo', 'in_progress', 'blocked')
  AND overdue_flagged_at IS NULL AND due_at < %(now)s
"""

# Every node's fate comes from g % 100 (its bucket) and a spread r in [0, 1).
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
    position, version, template_key, overdue_flagged_at, assignee_id, department_id, project_id
)
SELECT %(now)s, %(now)s, 'Node ' || g, '', due, NULL, status,
    CASE WHEN status = 'done'
         THEN due + CASE WHEN r < 0.9 THEN interval '-1 hour' ELSE interval '1 day' END END,
    g, 1, '',
    CASE WHEN b IN (1, 2) THEN due + interval '1 minute' END,
    ids.people[(g + g / 100) %% %(people)s + 1],  -- g / 100: each bucket meets everyone
    ids.departments[(g + g / 100) %% %(departments)s + 1],
    ids.projects[(g - 1) / (%(nodes)s / %(projects)s) + 1]
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
    SELECT id, project_id, department_id, 'overdue', due_at, overdue_flagged_at, NULL
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


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


@contextmanager
def timed(into: list[float]):
    started = time.perf_counter()
    yield
    into.append((time.perf_counter() - started) * 1000)


def generate(now) -> dict[str, int]:
    """Fill the database: people, departments, projects, a million nodes, their alerts."""
    from django.db import connection

    from tracker.accounts.models import Department, User
    from tracker.notifications.models import Channel
    from tracker.projects.models import Project, ProjectStatus

    User.objects.bulk_create(
        [
            User(
                username=f"bench-{role}-{i}",
                email=f"bench-{role}-{i}@example.com",
                password="!",
                language="zh-hans" if i % 5 == 0 else "en",
                email_mode="digest" if i % 10 == 0 else "immediate",
            )
            for role, count in (("lead", DEPARTMENTS), ("owner", OWNERS), ("person", PEOPLE))
            for i in range(count)
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
    for i, project in enumerate(projects[:20]):
        Channel.objects.create(
            name=f"war room {i}",
            kind="webhook",
            url=f"https://hooks.example.com/bench/{i}",
            project=project,
            events=["overdue", "escalation"],
        )
    Channel.objects.create(
        name="department 0",
        kind="webhook",
        url="https://hooks.example.com/bench/d0",
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
        cursor.execute(NODES_SQL, params)
        cursor.execute(ALERTS_SQL, params)
        cursor.execute("SELECT count(*) FROM alerts_alert")
        alerts = cursor.fetchone()[0]
    vacuum()
    return {"alerts_before": alerts}


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE milestones_milestone, alerts_alert, alerts_outboxmessage, accounts_user"
        )
        # Flush the pages the previous run dirtied: each run writes its own full-page images,
        # as a scan does after a checkpoint, rather than riding on another run's.
        cursor.execute("CHECKPOINT")


class RolledBack(Exception):
    pass


def rolled_back(run, into: list[float], *, then=lambda: None):
    """Time `run` and the constraint checks its COMMIT would make, call `then` (untimed) and
    roll everything back. Returns what `run` and `then` returned."""
    from django.db import connection, transaction

    try:
        with transaction.atomic():
            with timed(into):
                outcome = run()
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            raise RolledBack(outcome, then())
    except RolledBack as rollback:
        outcome, after = rollback.args
    return outcome, after


def raw_update(now) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_UPDATE, {"now": now})
        return cursor.rowcount


def measure(now) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracker.alerts.services import ScanLock, alerts_scan
    from tracker.notifications.models import OutboxMessage

    def scan(overdue=True, due_soon=False):
        return lambda: alerts_scan(now=now, overdue=overdue, due_soon=due_soon, lock=ScanLock.NONE)

    def outbox_rows() -> int:
        return OutboxMessage.objects.filter(created_at=now).count()

    # The three kinds of run take turns, each from the same vacuumed, checkpointed state.
    vacuum()
    timings: dict[str, list[float]] = {"raw_update": [], "scan": [], "full_scan": []}
    for _ in range(RUNS):
        flagged, _none = rolled_back(lambda: raw_update(now), timings["raw_update"])
        vacuum()
        result, messages = rolled_back(scan(), timings["scan"], then=outbox_rows)
        vacuum()
        rolled_back(scan(due_soon=True), timings["full_scan"])
        vacuum()

    # Where one scan spends its time, statement by statement.
    with CaptureQueriesContext(connection) as captured:
        rolled_back(scan(), [])
    vacuum()
    statements = [
        (float(q["time"]) * 1000, " ".join(q["sql"].split())[:90])
        for q in captured
        if float(q["time"]) >= 0.002
    ]

    # The scan for real, kept, with the memory it needs.
    tracemalloc.start()
    committed_ms: list[float] = []
    with timed(committed_ms):
        committed = scan()()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    vacuum()
    rescans: dict[str, list[float]] = {"rescan": [], "rescan_quarter_hour": [], "rescan_full": []}
    for _ in range(RESCANS):
        for name, parts in (
            ("rescan", {}),
            ("rescan_quarter_hour", {"overdue": False, "due_soon": True}),
            ("rescan_full", {"due_soon": True}),
        ):
            with timed(rescans[name]):
                empty = scan(**parts)()
            assert not any((empty.overdue, empty.escalated, empty.due_soon, empty.messages)), empty
    with CaptureQueriesContext(connection) as captured:
        scan()()
    rescan_statements = [
        (float(q["time"]) * 1000, " ".join(q["sql"].split())[:90])
        for q in captured
        if float(q["time"]) >= 0.002
    ]
    return {
        "rescan_statements_ms": rescan_statements,
        "newly_overdue_flagged_by_raw_update": flagged,
        "scan_result": result.as_dict(),
        "committed_result": committed.as_dict(),
        **{f"{name}_ms": values for name, values in timings.items()},
        **{f"{name}_ms": values for name, values in rescans.items()},
        "scan_committed_with_tracemalloc_ms": committed_ms[0],
        "python_peak_mib": peak / 2**20,
        "process_max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "outbox_rows": messages,
        "statements_ms": statements,
    }


def report(data: dict, generation_s: float) -> None:
    def line(label: str, values: list[float]) -> str:
        runs = ", ".join(f"{v:.0f}" for v in values)
        return f"  {label:<34} median {statistics.median(values):7.1f} ms  ({runs})"

    raw = statistics.median(data["raw_update_ms"])
    scan = statistics.median(data["scan_ms"])
    ratios = [s / r for s, r in zip(data["scan_ms"], data["raw_update_ms"], strict=True)]
    result = data["scan_result"]
    print(
        f"{NODES:,} nodes in {PROJECTS:,} projects, {NEWLY_OVERDUE:,} newly overdue "
        f"(generated in {generation_s:.0f} s; {data['alerts_before']:,} alerts already there)"
    )
    print(line("raw UPDATE (flag only)", data["raw_update_ms"]), end="")
    print(f"  {data['newly_overdue_flagged_by_raw_update']:,} rows")
    print(line("scan (flag + alerts + outbox)", data["scan_ms"]), end="")
    print(
        f"  {result['overdue']:,} overdue, {result['escalated']} escalated, "
        f"{result['messages']:,} messages"
    )
    print(
        f"  scan / raw UPDATE: {scan / raw:.2f}x (target: at most 2x); run by run "
        f"{min(ratios):.2f}x to {max(ratios):.2f}x, median {statistics.median(ratios):.2f}x"
    )
    print(line("full scan (+ due soon, resolve)", data["full_scan_ms"]))
    print(line("empty rescan (every minute)", data["rescan_ms"]) + "  target: well under 100 ms")
    print(line("empty rescan (every 15 minutes)", data["rescan_quarter_hour_ms"]))
    print(line("empty full rescan (flag_overdue)", data["rescan_full_ms"]))
    print(
        f"  memory: Python peak {data['python_peak_mib']:.1f} MiB during the scan "
        f"(tracemalloc; that run took {data['scan_committed_with_tracemalloc_ms']:.0f} ms), "
        f"process max RSS {data['process_max_rss_mib']:.0f} MiB"
    )
    print(
        f"  a scan writes {data['outbox_rows']:,} outbox rows "
        f"(one per person, pending or held for the digest, and one per chat channel)"
    )
    for title, key in (("one scan", "statements_ms"), ("an empty rescan", "rescan_statements_ms")):
        print(f"  {title}, statement by statement (2 ms or more):")
        for ms, sql in data[key]:
            print(f"    {ms:7.1f} ms  {sql}")


def main() -> None:
    _setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment
    from django.utils import timezone

    from config.celery import app

    if connection.vendor != "postgresql":
        raise SystemExit("bench_scan needs PostgreSQL: set DATABASE_URL=postgres://…")
    app.conf.broker_url = "memory://"  # the committed scan's "flush the outbox" goes nowhere
    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "milepost_bench_scan"
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        now = timezone.now()
        started = time.perf_counter()
        data = generate(now)
        generation_s = time.perf_counter() - started
        data.update(measure(now))
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        teardown_test_environment()
    report(data, generation_s)
    out = Path(settings.VAR_DIR) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scan.json").write_text(json.dumps(data, indent=2, default=str))


if __name__ == "__main__":
    main()
