"""What `make serve` refuses to start with: a setting production needs that is missing, or
one still at its development default.

SQLite and the file-system broker are refused too. They are `make run`'s server-less
defaults, for one person on one machine: in production the web workers, the Celery worker
and beat (possibly on several hosts) share one database and one broker, and backups,
`pg_dump` and point-in-time recovery assume PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping

import dj_database_url
from django.conf import settings

DEVELOPMENT_SITE_URL = "http://127.0.0.1:8000"


def production_problems(environ: Mapping[str, str]) -> list[str]:
    """One short sentence per problem; empty when the settings are fit for production."""
    problems = []
    key = environ.get("SECRET_KEY", "")
    if not key:
        problems.append("SECRET_KEY is not set (the development key is in use)")
    elif key.startswith("django-insecure") or len(set(key)) < 5 or len(key) < 50:
        problems.append("SECRET_KEY is too weak (use 50+ random characters)")
    if settings.DEBUG:
        problems.append("DEBUG is true")
    database = environ.get("DATABASE_URL", "")
    if not database:
        problems.append("DATABASE_URL is not set")
    elif dj_database_url.parse(database)["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL must name PostgreSQL (postgres://…)")
    broker = environ.get("CELERY_BROKER_URL", "")
    if not broker:
        problems.append("CELERY_BROKER_URL is not set")
    elif not broker.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
        problems.append("CELERY_BROKER_URL must name Redis or RabbitMQ")
    if not environ.get("ALLOWED_HOSTS"):
        problems.append("ALLOWED_HOSTS is not set")
    if settings.SITE_URL == DEVELOPMENT_SITE_URL or not environ.get("SITE_URL"):
        problems.append("SITE_URL is not set (links in emails would point to 127.0.0.1)")
    if not settings.EMAIL_HOST and "filebased" in settings.EMAIL_BACKEND:
        problems.append("EMAIL_HOST is not set (emails would only be written to files)")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append("CELERY_TASK_ALWAYS_EAGER is true")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        problems.append("WEBHOOK_ALLOW_PRIVATE is true (tests only)")
    return problems
