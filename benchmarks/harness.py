"""What every benchmark shares: its own throwaway database, paired A/B rounds, and figures that
print their median, range and target (PASS/FAIL) and end up in one JSON file.

- Database: BENCH_DATABASE_URL names it when set (its server and name, created and dropped by
  each benchmark in turn); otherwise it is `milepost_bench_<pid>_<label>` on DATABASE_URL's
  server. Either way it is dropped when the benchmark ends (try/finally), so two runs on one
  machine never touch each other's data.
- Figures: `figure(...)` records one row of the targets table. A module run alone prints its
  figures; under `benchmarks.run` each module runs in a process of its own and writes them to
  the file named by BENCH_RESULTS_PART, which run.py gathers into var/bench-results.json.

Nothing here is a test: a FAIL is a number to improve, never an exit status.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

REPO = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))  # medians of at least 5 rounds


@dataclass
class Figure:
    """One measured row: `value` is the median, `low`-`high` the range over the rounds."""

    metric: str
    value: float
    low: float
    high: float
    unit: str
    target: str  # e.g. "<= 1.5", ">= 0.8", "== 11"
    passed: bool | None
    detail: str = ""
    samples: list[float] = field(default_factory=list)

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "----"}[self.passed]
        spread = "" if self.low == self.high else f" ({_num(self.low)}-{_num(self.high)})"
        return (
            f"{verdict}  {self.metric:<58} {_num(self.value)}{self.unit}{spread}"
            + (f"  target {self.target}{self.unit}" if self.passed is not None else "")
            + (f"  [{self.detail}]" if self.detail else "")
        )


def _num(value: float) -> str:
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


FIGURES: list[Figure] = []


def _meets(value: float, target: str) -> bool:
    op, _, bound = target.partition(" ")
    limit = float(bound)
    return {"<=": value <= limit, "<": value < limit, ">=": value >= limit, "==": value == limit}[
        op
    ]


def figure(
    metric: str,
    samples: list[float],
    *,
    unit: str,
    target: str | None,
    detail: str = "",
) -> Figure:
    """Record (and print) the median of `samples` against `target` ("<= 1.5", or None when a
    figure is only context)."""
    value = statistics.median(samples)
    row = Figure(
        metric=metric,
        value=value,
        low=min(samples),
        high=max(samples),
        unit=unit,
        target=target or "(none)",
        passed=None if target is None else _meets(value, target),
        detail=detail,
        samples=[round(s, 4) for s in samples],
    )
    FIGURES.append(row)
    print(row.line(), flush=True)
    return row


def ratio_figure(
    metric: str, a: list[float], b: list[float], *, target: str, a_name: str, b_name: str
) -> Figure:
    """A ÷ B round by round (A and B measured in turn), with both sides' medians and ranges."""
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    detail = (
        f"{a_name} {_num(statistics.median(a))} ms ({_num(min(a))}-{_num(max(a))}), "
        f"{b_name} {_num(statistics.median(b))} ms ({_num(min(b))}-{_num(max(b))}), "
        f"{len(ratios)} rounds"
    )
    return figure(metric, ratios, unit="x", target=target, detail=detail)


def write_figures(extra: dict[str, Any] | None = None) -> None:
    """Hand this module's figures (and any raw data) to run.py, or keep them beside var/."""
    part = os.environ.get("BENCH_RESULTS_PART")
    data = {"figures": [asdict(f) for f in FIGURES], "extra": extra or {}}
    if part:
        Path(part).write_text(json.dumps(data, default=str))


def alternate(rounds: int, *sides: Callable[[], None], between: Callable[[], None] = lambda: None):
    """Run the sides in turn, `rounds` times (A B A B …), calling `between` (untimed) after each
    side; the sides time themselves."""
    for _ in range(rounds):
        for side in sides:
            side()
            between()


@contextmanager
def timed(into: list[float]):
    started = time.perf_counter()
    yield
    into.append((time.perf_counter() - started) * 1000)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def database_name(label: str) -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return urlsplit(url).path.lstrip("/")
    return f"milepost_bench_{os.getpid()}_{label}"


@contextmanager
def bench_database(label: str):
    """Create this benchmark's database (migrated), point Django's connection at it, and drop
    it at the end whatever happens."""
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    if connection.vendor != "postgresql":
        raise SystemExit("The benchmarks need PostgreSQL: set DATABASE_URL=postgres://…")
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        parts = urlsplit(url)
        connection.settings_dict.update(
            HOST=parts.hostname or connection.settings_dict["HOST"],
            PORT=parts.port or connection.settings_dict["PORT"],
            USER=parts.username or connection.settings_dict["USER"],
            PASSWORD=parts.password or connection.settings_dict["PASSWORD"],
        )
    setup_test_environment()
    name = database_name(label)
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    original_name = connection.settings_dict["NAME"]
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        yield name
    finally:  # also when stopped while creating or migrating it: only ever this one by name
        connection.close()
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")
        connection.settings_dict["NAME"] = original_name
        teardown_test_environment()


def database_url() -> str:
    """The benchmark database as a URL, for the processes a benchmark starts."""
    from django.db import connection

    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process a benchmark starts: its database, no DEBUG."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    env.pop("BENCH_RESULTS_PART", None)
    env.update(extra)
    return env


def python() -> str:
    return sys.executable
