"""Median server time of rendering a 300-node board (the whole request, middleware included).

Runs in a throwaway database of its own, created and dropped around the measurement, so it never
touches the data of the database named by DATABASE_URL. Usage: ``python -m benchmarks.bench_board``
(``make bench`` runs it with every other ``bench_*.py``).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

NODES = 300
DEPARTMENTS = 7
RUNS = 30
WARMUP = 3


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _build_board():
    """One owner, seven departments with leads and members, 300 nodes in a dependency chain
    (a third of them overdue, so the at-risk walk has work to do)."""
    from django.utils import timezone

    from tracker.accounts.models import Department, Membership, User
    from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
    from tracker.projects.models import Project

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
    now = timezone.now()
    project = Project.objects.create(
        name="Bench campaign", kind="campaign", d_day=now + timedelta(days=30), owner=owner
    )
    statuses = list(MilestoneStatus.values)
    nodes = Milestone.objects.bulk_create(
        Milestone(
            project=project,
            title=f"Node {index} of the benchmark board",
            department=departments[index % DEPARTMENTS],
            assignee=people[index % len(people)],
            due_at=now + timedelta(hours=6 * (index - NODES // 3)),
            status=statuses[index % 3],  # to do, in progress, blocked: all open
            position=index,
        )
        for index in range(NODES)
    )
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=nodes[index], depends_on=nodes[index - 1])
        for index in range(1, NODES)
    )
    return owner, project


def measure() -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    owner, project = _build_board()
    client = Client()
    client.force_login(owner)
    url = reverse("web:board", args=[project.pk])
    for _ in range(WARMUP):
        assert client.get(url).status_code == 200
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return {
        "median_ms": statistics.median(timings),
        "p90_ms": statistics.quantiles(timings, n=10)[-1],
        "queries": len(captured),
        "kilobytes": len(response.content) / 1024,
    }


def main() -> None:
    _setup_django()
    from django.db import connection
    from django.test.utils import (
        override_settings,
        setup_test_environment,
        teardown_test_environment,
    )

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "milepost_bench_board"
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with override_settings(
            # Measure the page, not password hashing or a missing collectstatic manifest.
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ):
            result = measure()
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        teardown_test_environment()
    print(
        f"board, {NODES} nodes: median {result['median_ms']:.1f} ms, "
        f"p90 {result['p90_ms']:.1f} ms over {RUNS} requests; "
        f"{result['queries']} SQL queries; {result['kilobytes']:.0f} KiB of HTML"
    )


if __name__ == "__main__":
    main()
