"""Fresh PostgreSQL databases for restore and `make serve` tests: one migrated template per
session (migrating takes a while), copied for each test that needs an empty database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection

from tests.alerts.support import manage_py


def server_url(name: str) -> str:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}:{port}/{name}"


def admin_execute(sql: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def migrated_template(django_db_setup, django_db_blocker) -> Iterator[str]:
    name = f"milepost_tpl_{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        admin_execute(f'CREATE DATABASE "{name}"')
        try:
            import os

            result = manage_py(
                "migrate", "-v", "0", env={**os.environ, "DATABASE_URL": server_url(name)}
            )
            assert result.returncode == 0, result.stderr
            yield name
        finally:
            admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(migrated_template):
    """A factory of new, migrated, empty databases (dropped after the test): their URLs."""
    made: list[str] = []

    def make() -> str:
        name = f"milepost_fresh_{uuid.uuid4().hex[:10]}"
        admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
        made.append(name)
        return server_url(name)

    yield make
    for name in made:
        with contextlib.suppress(psycopg.Error):
            admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
