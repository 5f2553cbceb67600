"""The milestone list API under gunicorn (2 workers, DATABASE_CONN_MAX_AGE=60, Milepost's own
gunicorn.conf.py): requests/s for a page of 100 nodes, against a bare Django JSON view that runs
the very SQL that page ran (benchmarks/api_urls.py) in the same workers through a Django handler
with no middleware (benchmarks/api_wsgi.py), measured in turn by the same load client in a
process of its own (`wrk` when installed, else benchmarks/load_client.py), with the same token
header.

Runs in a throwaway database of its own (benchmarks/harness.py). Usage:
``python -m benchmarks.bench_api`` (``make bench`` runs it with every other ``bench_*.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from benchmarks.harness import (
    REPO,
    ROUNDS,
    bench_database,
    child_env,
    figure,
    setup_django,
    write_figures,
)

PROJECTS = 40
NODES_PER_PROJECT = 125
DEPARTMENTS = 7
PAGE = 100
SECONDS = float(os.environ.get("BENCH_API_SECONDS", 6))  # per side per round
CONNECTIONS = 4
CONN_MAX_AGE = "60"
FRESH_ROUNDS = 3  # of the list with DATABASE_CONN_MAX_AGE=0, for the docs' advice
STARTUP_SECONDS = 180  # for gunicorn's workers to answer (minutes on a loaded 2-core machine)


def generate() -> str:
    """Nodes in dependency chains over departments and people; returns an API token's key."""
    from django.utils import timezone

    from tracker.accounts.models import Department, Membership, User
    from tracker.accounts.services import token_issue
    from tracker.milestones.models import Milestone, MilestoneDependency, MilestoneStatus
    from tracker.projects.models import Project

    reader = User.objects.create_user("bench-api", is_staff=True)
    owner = User.objects.create_user("bench-owner")
    departments, people = [], []
    for index in range(DEPARTMENTS):
        lead = User.objects.create_user(f"bench-lead-{index}")
        department = Department.objects.create(name=f"Dept {index}", code=f"d{index}", lead=lead)
        member = User.objects.create_user(f"bench-member-{index}")
        Membership.objects.create(user=member, department=department)
        departments.append(department)
        people += [lead, member]
    now = timezone.now()
    statuses = list(MilestoneStatus.values)
    for p in range(PROJECTS):
        project = Project.objects.create(
            name=f"Campaign {p}", kind="campaign", d_day=now + timedelta(days=60), owner=owner
        )
        nodes = Milestone.objects.bulk_create(
            Milestone(
                project=project,
                title=f"Node {i} of campaign {p}",
                description="What to do, and how to know it is done. " * 4,
                department=departments[i % DEPARTMENTS],
                assignee=people[(i + p) % len(people)],
                due_at=now + timedelta(hours=5 * i - 100 + p),
                status=statuses[i % 3],
                position=i,
            )
            for i in range(NODES_PER_PROJECT)
        )
        MilestoneDependency.objects.bulk_create(
            MilestoneDependency(milestone=nodes[i], depends_on=nodes[i - 1])
            for i in range(1, len(nodes))
        )
    _token, key = token_issue(user=reader, scope="read")
    return key


def page_statements(url: str, key: str) -> list[str]:
    """The SELECTs one list request runs, as sent to PostgreSQL."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(url).status_code == 200  # the token's last-used write happens here
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    assert len(response.json()["results"]) == PAGE
    return [q["sql"] for q in captured if q["sql"].lstrip().upper().startswith("SELECT")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(url: str, key: str) -> float:
    """Requests per second a load client gets from `url` over SECONDS."""
    header = f"Authorization: Token {key}"
    if shutil.which("wrk"):
        command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS:.0f}s", "-H", header, url]
    else:
        command = [
            *(sys.executable, "-m", "benchmarks.load_client"),
            *(url, str(SECONDS), str(CONNECTIONS), header),
        ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO).stdout
    if "Non-2xx" in output and not re.search(r"Non-2xx or 3xx responses: 0\b", output):
        raise RuntimeError(f"The load client got errors from {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s*([\d.]+)", output)[1])


@contextmanager
def gunicorn(folder: Path, sql_file: Path, conn_max_age: str):
    """Milepost under gunicorn (its own gunicorn.conf.py, 2 workers); yields the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(
        DJANGO_SETTINGS_MODULE="benchmarks.api_settings",
        BENCH_API_FLOOR_SQL=str(sql_file),
        WEB_CONCURRENCY="2",
        MILEPOST_BIND=f"127.0.0.1:{port}",
        DATABASE_CONN_MAX_AGE=conn_max_age,
        API_TOKEN_RATE="100000000/minute",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = folder / f"gunicorn-{conn_max_age}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            # Milepost's gunicorn.conf.py; the application adds the bare floor beside Milepost.
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "benchmarks.api_wsgi"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/bench-floor/", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        raise RuntimeError(
                            f"gunicorn did not start:\n{log_path.read_text()}"
                        ) from None
                    time.sleep(0.3)
            yield base
        finally:
            server.terminate()
            server.wait(30)


def measure(key: str) -> dict:
    list_path = f"/api/v1/milestones/?page_size={PAGE}"
    statements = page_statements(list_path, key)
    with tempfile.TemporaryDirectory(prefix="milepost-bench-api-") as folder:
        sql_file = Path(folder) / "floor.json"
        sql_file.write_text(json.dumps(statements))
        api, floor, fresh = [], [], []
        with gunicorn(Path(folder), sql_file, CONN_MAX_AGE) as base:
            for url in (base + list_path, f"{base}/bench-floor/"):  # warm both up
                load(url, key)
            for _ in range(ROUNDS):
                api.append(load(base + list_path, key))
                floor.append(load(f"{base}/bench-floor/", key))
        # The same list when every request opens its own database connection (the default).
        with gunicorn(Path(folder), sql_file, "0") as base:
            load(base + list_path, key)
            for _ in range(FRESH_ROUNDS):
                fresh.append(load(base + list_path, key))
    return {
        "api_rps": api,
        "floor_rps": floor,
        "conn_max_age_0_rps": fresh,
        "statements": len(statements),
    }


def main() -> None:
    setup_django()
    with bench_database("api"):
        key = generate()
        result = measure(key)
    api, floor = result["api_rps"], result["floor_rps"]
    client = "wrk" if shutil.which("wrk") else "benchmarks.load_client"
    figure(
        f"milestone list API (page of {PAGE}) requests/s, gunicorn 2 workers"
        " / bare Django JSON view, same SQL",
        [a / f for a, f in zip(api, floor, strict=True)],
        unit="",
        target=">= 0.8",
        detail=f"API {sorted(api)[len(api) // 2]:.1f} req/s ({min(api):.1f}-{max(api):.1f}),"
        f" floor {sorted(floor)[len(floor) // 2]:.1f} req/s ({min(floor):.1f}-{max(floor):.1f});"
        f" {result['statements']} SELECTs; {client}, {CONNECTIONS} connections,"
        f" {SECONDS:.0f} s a side, CONN_MAX_AGE={CONN_MAX_AGE}",
    )
    fresh = result["conn_max_age_0_rps"]
    figure(
        "milestone list API requests/s, DATABASE_CONN_MAX_AGE=0 (a connection per request)",
        fresh,
        unit=" req/s",
        target=None,
        detail=f"with {CONN_MAX_AGE}: {sorted(api)[len(api) // 2]:.1f} req/s",
    )
    write_figures(result)


if __name__ == "__main__":
    main()
