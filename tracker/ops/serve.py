"""`make serve`: check the settings, migrate, collect static files, then run web (gunicorn),
the Celery worker and one beat under honcho (`Procfile`) until stopped.

Run as `python -m tracker.ops.serve`. Refuses to start, with one line on stderr and exit
status 2, when `tracker.ops.preflight` or `check --deploy` finds a problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def refuse(reason: str) -> None:
    print(f"milepost serve: refusing to start: {reason}", file=sys.stderr, flush=True)
    sys.exit(2)


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, capture_output=True, text=True
    )


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django  # noqa: PLC0415  (after DJANGO_SETTINGS_MODULE is set)
    from django.conf import settings  # noqa: PLC0415  (after DJANGO_SETTINGS_MODULE is set)
    from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415  (after DJANGO_SETTINGS_MODULE is set)

    try:
        django.setup()
    except ImproperlyConfigured as error:
        refuse(str(error))
    from tracker.ops.preflight import production_problems  # noqa: PLC0415  (after DJANGO_SETTINGS_MODULE is set)

    problems = production_problems(os.environ)
    if problems:
        refuse("; ".join(problems) + ". See docs/deploy.md.")

    check = manage("check", "--deploy", "--fail-level", "WARNING")
    if check.returncode != 0:
        issues = [line.strip() for line in check.stderr.splitlines() if ": (" in line]
        refuse("check --deploy: " + ("; ".join(issues) or check.stderr.strip()[-500:]))
    for step in (("migrate", "--noinput"), ("collectstatic", "--noinput", "--clear", "-v", "0")):
        print(f"milepost serve: manage.py {' '.join(step)}", flush=True)
        result = subprocess.run([sys.executable, "manage.py", *step], cwd=REPO)
        if result.returncode != 0:
            sys.exit(result.returncode)

    # Each start begins with empty metrics files (prometheus-client's multiprocess mode).
    metrics_dir = Path(
        os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(settings.VAR_DIR) / "prometheus"
    )
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ["MILEPOST_PYTHON"] = sys.executable
    honcho = [
        sys.executable,
        "-m",
        "honcho",
        "-f",
        str(REPO / "Procfile"),
        "-d",
        str(REPO),
        "start",
    ]
    print("milepost serve: starting web, worker and beat", flush=True)
    os.execv(sys.executable, honcho)


if __name__ == "__main__":
    main()
