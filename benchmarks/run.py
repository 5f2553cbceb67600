"""`make bench`: run the `main()` of every `benchmarks/bench_*.py` module, one after another.

`python -m benchmarks.run scan` runs only the modules whose name contains "scan".
Timings are measured and printed here, never asserted in the test suite.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def bench_modules(filters: list[str]) -> list[str]:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    return [name for name in names if not filters or any(f in name for f in filters)]


def main(argv: list[str]) -> int:
    failed = []
    for name in bench_modules(argv):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - started:.0f} s in all\n", flush=True)
    if failed:
        print(f"Failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
