"""The board of one project: SQL queries at 10 and at 300 nodes (the same, whatever the size),
and the server's CPU time per request for 300 nodes (the whole request, middleware included,
measured with the process's CPU clock, so other work on a shared machine does not count).

Runs in a throwaway database of its own (benchmarks/harness.py). Usage:
``python -m benchmarks.bench_board`` (``make bench`` runs it with every other ``bench_*.py``).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from benchmarks.harness import ROUNDS, bench_database, figure, setup_django, write_figures

NODES = 300
SMALL = 10
DEPARTMENTS = 7
REQUESTS = 10  # per round
WARMUP = 3


def _people():
    from tracker.accounts.models import Department, Membership, User

    owner = User.objects.create_user("bench-owner", password="bench-Milepost-1")
    departments = []
    people = []
    for index in range(DEPARTMENTS):
        lead = User.objects.create_user(f"bench-lead-{index}")
        department = Department.objects.create(name=f"Dept {index}", code=f"d{index}", lead=lead)
        member = User.objects.create_user(f"bench-member-{index}")
        Membership.objects.create(user=member, department=department)
        departments.append(department)
        people += [lead, member]
    return owner, departments, people


def _build_board(owner, departments, people, nodes: int):
    """A project of `nodes` nodes in a dependency chain over seven departments (a third of
    them overdue, so the at-risk walk has work to do)."""
    from django.utils import timezone

    from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
    from tracker.projects.models import Project

    now = timezone.now()
    project = Project.objects.create(
        name=f"Bench campaign of {nodes}",
        kind="campaign",
        d_day=now + timedelta(days=30),
        owner=owner,
    )
    statuses = list(MilestoneStatus.values)
    made = Milestone.objects.bulk_create(
        Milestone(
            project=project,
            title=f"Node {index} of the benchmark board",
            department=departments[index % DEPARTMENTS],
            assignee=people[index % len(people)],
            due_at=now + timedelta(hours=6 * (index - nodes // 3)),
            status=statuses[index % 3],  # to do, in progress, blocked: all open
            position=index,
        )
        for index in range(nodes)
    )
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=made[index], depends_on=made[index - 1])
        for index in range(1, nodes)
    )
    return project


def measure() -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    owner, departments, people = _people()
    small = _build_board(owner, departments, people, SMALL)
    large = _build_board(owner, departments, people, NODES)
    client = Client()
    client.force_login(owner)
    queries = {}
    for project in (small, large):
        url = reverse("web:board", args=[project.pk])
        for _ in range(WARMUP):
            assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        queries[project.pk] = len(captured)
    url = reverse("web:board", args=[large.pk])
    cpu_ms, wall_ms = [], []
    for _ in range(ROUNDS):
        cpu, wall = [], []
        for _ in range(REQUESTS):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            cpu.append((time.process_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        cpu_ms.append(statistics.median(cpu))
        wall_ms.append(statistics.median(wall))
    return {
        "queries_small": queries[small.pk],
        "queries_large": queries[large.pk],
        "cpu_ms": cpu_ms,
        "wall_ms": wall_ms,
        "kilobytes": len(response.content) / 1024,
    }


def main() -> None:
    setup_django()
    from django.test.utils import override_settings

    with (
        bench_database("board"),
        override_settings(
            # Measure the page, not password hashing or a missing collectstatic manifest.
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ),
    ):
        result = measure()
    equal = result["queries_small"] == result["queries_large"]
    figure(
        f"board, SQL queries at {SMALL} and {NODES} nodes (equal, at most 12)",
        [result["queries_large"]],
        unit="",
        target="<= 12",
        detail=f"{result['queries_small']} at {SMALL} nodes, {result['queries_large']} at {NODES}"
        + ("" if equal else ": NOT EQUAL"),
    )
    if not equal:
        figure("board, SQL queries equal at 10 and 300 nodes", [0], unit="", target="== 1")
    figure(
        f"board, {NODES} nodes: server CPU time per request",
        result["cpu_ms"],
        unit=" ms",
        target="<= 60",
        detail=f"median of {REQUESTS} requests a round; wall clock"
        f" {statistics.median(result['wall_ms']):.0f} ms; {result['kilobytes']:.0f} KiB of HTML",
    )
    write_figures(result)


if __name__ == "__main__":
    main()
