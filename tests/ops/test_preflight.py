"""What `make serve` refuses to start with."""

import subprocess
import sys

import pytest

from tests.alerts.support import REPO
from tracker.ops.preflight import production_problems

GOOD_KEY = "k3Y-" + "x9Qz" * 15
GOOD = {
    "SECRET_KEY": GOOD_KEY,
    "DATABASE_URL": "postgres://milepost@db/milepost",
    "CELERY_BROKER_URL": "redis://redis:6379/0",
    "ALLOWED_HOSTS": "milepost.example.com",
    "SITE_URL": "https://milepost.example.com",
}


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SITE_URL = "https://milepost.example.com"
    settings.EMAIL_HOST = "smtp.example.com"
    return settings


def test_production_settings_pass(production):
    assert production_problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3" * 10}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "short-but-random-Xy7"}, "SECRET_KEY is too weak"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"CELERY_BROKER_URL": ""}, "CELERY_BROKER_URL is not set"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL must name Redis or RabbitMQ"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is not set"),
        ({"SITE_URL": ""}, "SITE_URL is not set"),
    ],
)
def test_each_missing_or_development_value_is_named(production, change, problem):
    problems = production_problems({**GOOD, **change})
    assert len(problems) == 1
    assert problems[0].startswith(problem)


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("DEBUG", True, "DEBUG is true"),
        ("EMAIL_HOST", "", "EMAIL_HOST is not set"),
        ("CELERY_TASK_ALWAYS_EAGER", True, "CELERY_TASK_ALWAYS_EAGER is true"),
        ("WEBHOOK_ALLOW_PRIVATE", True, "WEBHOOK_ALLOW_PRIVATE is true"),
    ],
)
def test_development_settings_are_refused(production, setting, value, problem):
    setattr(production, setting, value)
    if setting == "EMAIL_HOST":
        production.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    assert [p for p in production_problems(GOOD) if p.startswith(problem)]


def test_sqlite_is_refused(production):
    sqlite = {**GOOD, "DATABASE_URL": "sqlite:////srv/milepost/db.sqlite3"}
    assert production_problems(sqlite) == ["DATABASE_URL must name PostgreSQL (postgres://…)"]


def test_serve_refuses_in_one_line_with_a_non_zero_status(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MILEPOST_VAR_DIR": str(tmp_path), "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "tracker.ops.serve"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("milepost serve: refusing to start: SECRET_KEY is not set")
    assert "DEBUG is true" in lines[0]
    assert "DATABASE_URL is not set" in lines[0]
    assert not (tmp_path / "static").exists()  # nothing ran
