"""`make bench`: run every `benchmarks/bench_*.py`, each in a process of its own (so one
module's memory or settings never colour another's), then print one table of every figure
against its target and write them all to a JSON file (BENCH_RESULTS, default
var/bench-results.json; the path is printed).

`python -m benchmarks.run scan` runs only the modules whose name contains "scan".
Timings are measured and printed here, never asserted in the test suite: a FAIL is a number to
improve, not an exit status (the exit status is non-zero only when a benchmark broke).
"""

from __future__ import annotations

import json
import os
import pkgutil
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import REPO, Figure


def bench_modules(filters: list[str]) -> list[str]:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    return [name for name in names if not filters or any(f in name for f in filters)]


def results_path() -> Path:
    default = Path(os.environ.get("MILEPOST_VAR_DIR", REPO / "var")) / "bench-results.json"
    return Path(os.environ.get("BENCH_RESULTS", default))


def git_head() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str]) -> int:
    failed = []
    modules: dict[str, dict] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="milepost-bench-") as folder:
        for name in bench_modules(argv):
            print(f"== {name}", flush=True)
            part = Path(folder) / f"{name}.json"
            started = time.perf_counter()
            code = subprocess.call(
                [sys.executable, "-m", f"benchmarks.{name}"],
                cwd=REPO,
                env={**os.environ, "BENCH_RESULTS_PART": str(part)},
            )
            seconds = time.perf_counter() - started
            print(f"== {name}: {seconds:.0f} s in all\n", flush=True)
            data = json.loads(part.read_text()) if part.exists() else {"figures": [], "extra": {}}
            data["seconds"] = round(seconds, 1)
            data["exit_status"] = code
            modules[name] = data
            if code:
                failed.append(name)
    total = time.perf_counter() - began
    figures = [Figure(**row) for data in modules.values() for row in data["figures"]]
    print(f"== make bench: {len(figures)} figures in {total / 60:.1f} min")
    for row in figures:
        print(row.line())
    out = results_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": git_head(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "seconds": round(total, 1),
                "figures": [row.__dict__ for row in figures],
                "modules": modules,
            },
            indent=2,
            default=str,
        )
    )
    print(f"Results: {out}")
    if failed:
        print(f"Broke (no figures or only some): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
