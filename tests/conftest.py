import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import translation
from rest_framework.test import APIClient

from tests.factories import DepartmentFactory, ProjectFactory, UserFactory


def pytest_configure(config):
    from django.conf import settings

    # Tests run with DEBUG off but without `collectstatic`: serve assets from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    # Password hashing is deliberately slow; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if worker := os.environ.get("PYTEST_XDIST_WORKER"):
        _isolate_xdist_worker(worker)


# What each pytest-xdist worker (`make test` runs the suite with `-n`) must not share with the
# others. The test database is pytest-django's (its name gets the worker's id, test_…_gw1).
# Redis: a test that empties the cache (`cache.clear()` is FLUSHDB) would drop the queue of a
# Celery worker another test started, so worker gwN uses the Redis database base + N (the base
# from the URL, e.g. redis://…/10 → 10, 11, …); the var/ folder (file-system broker, file
# emails, static files) is a subfolder of its own. The variables are set for the processes the
# tests start (Celery workers, manage.py), and the settings derived from them are recomputed by
# config/settings.py itself for this process.
REDIS_VARIABLES = ("REDIS_URL", "TEST_BROKER_URL", "CELERY_BROKER_URL")
WORKER_SETTINGS = (
    "REDIS_URL",
    "CACHES",
    "VAR_DIR",
    "STATIC_ROOT",
    "EMAIL_FILE_PATH",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
)
REDIS_DATABASES = 16  # Redis's default `databases`


def redis_url_for_worker(url: str, index: int) -> str:
    """The Redis URL of xdist worker `index`: database base + index ("" and non-Redis URLs,
    such as a file-system or AMQP broker, unchanged)."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        return url
    base = int(parts.path.strip("/") or 0)
    if base + index >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"xdist worker {index} would use Redis database {base + index} of {url}: lower "
            f"the base database or the number of workers (-n)"
        )
    return urlunsplit(parts._replace(path=f"/{base + index}"))


def _isolate_xdist_worker(worker: str) -> None:
    import runpy

    from django.conf import settings
    from django.test.signals import setting_changed

    from config import settings as config_settings
    from config.celery import app as celery_app

    index = int(worker.removeprefix("gw"))
    for name in REDIS_VARIABLES:
        if os.environ.get(name):
            os.environ[name] = redis_url_for_worker(os.environ[name], index)
    var_dir = Path(settings.VAR_DIR) / f"xdist-{worker}"
    var_dir.mkdir(parents=True, exist_ok=True)
    os.environ["MILEPOST_VAR_DIR"] = str(var_dir)
    recomputed = runpy.run_path(config_settings.__file__)
    for name in WORKER_SETTINGS:
        setattr(settings, name, recomputed[name])
    setting_changed.send(sender=None, setting="CACHES", value=settings.CACHES, enter=True)
    celery_app.conf.broker_url = settings.CELERY_BROKER_URL
    celery_app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS


# The tests that also run on `make run`'s SQLite (`make test` runs them a second time there):
# the alert pipeline, from the scan to the outbox, the reports and the demo data.
EMBEDDED = ("tests/alerts/", "tests/demo/", "tests/reports/")


# A session-scoped fixture of the tests' own that costs more than a test: a worker that runs
# none of its tests never pays for it (`migrate` in a process of its own).
EXPENSIVE_SESSION_FIXTURES = frozenset({"migrated_template"})


def xdist_group(item) -> str | None:
    """The tests that share an expensive fixture run on one xdist worker (`--dist loadgroup`),
    so it is made once: a file's module-scoped fixtures (a Celery worker process, a database
    built for the file), or the EXPENSIVE_SESSION_FIXTURES. The other tests go to any worker."""
    fixtures = getattr(item, "_fixtureinfo", None)
    if fixtures is None:
        return None
    names = set(fixtures.names_closure)
    if shared := sorted(names & EXPENSIVE_SESSION_FIXTURES):
        return shared[0]
    for name in names:
        for fixture in fixtures.name2fixturedefs.get(name, ()):
            if fixture.scope in {
                "module",
                "class",
                "package",
            } and fixture.func.__module__.startswith("tests."):
                return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Group the tests that share an expensive fixture (xdist_group); mark the embedded tests;
    on SQLite run only those, and skip the ones that test a PostgreSQL statement
    (`@pytest.mark.postgresql(reason=…)`)."""
    for item in items:
        if not item.get_closest_marker("xdist_group") and (group := xdist_group(item)):
            item.add_marker(pytest.mark.xdist_group(group))
        if item.nodeid.startswith(EMBEDDED):
            item.add_marker(pytest.mark.embedded)
    if connection.vendor == "postgresql" or not items:
        return
    if connection.vendor != "sqlite":
        raise pytest.UsageError(
            f"Milepost's tests run on PostgreSQL or SQLite, not {connection.vendor}"
        )
    kept = [item for item in items if item.get_closest_marker("embedded")]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept
    for item in kept:
        if marker := item.get_closest_marker("postgresql"):
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {marker.kwargs['reason']}"))


RATE_LIMIT_KEYS = ("*allauth:rl:*", "*throttle_*")


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language and leaves it so: a request's LocaleMiddleware
    activates the visitor's language for the thread and nothing resets it, so a Chinese page
    would otherwise leak into the next test's messages."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _no_rate_limits_left_over():
    """Sign-in and token limits live in the Redis cache, which outlives a test and a run (and
    holds the test broker's queues, so it is not flushed): drop only their keys."""
    client = getattr(cache, "_cache", None)
    if client is None or not hasattr(client, "get_client"):
        cache.clear()  # local memory
        return
    redis = client.get_client(write=True)
    for pattern in RATE_LIMIT_KEYS:
        keys = list(redis.scan_iter(match=pattern, count=1000))
        if keys:
            redis.delete(*keys)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


NODE_URL = re.compile(r"^/api/v1/milestones/\d+/$")


class ReadBeforeWriteClient(APIClient):
    """Writes nodes as an integrator must: a PATCH, PUT or DELETE of a node that names no
    If-Match first reads the node (a real GET) and sends back the ETag it got."""

    def generic(self, method, path, *args, **extra):
        writes_node = method in {"PATCH", "PUT", "DELETE"} and NODE_URL.match(path)
        if writes_node and "HTTP_IF_MATCH" not in extra:
            read = self.get(path)
            if read.has_header("ETag"):
                extra["HTTP_IF_MATCH"] = read["ETag"]
        return super().generic(method, path, *args, **extra)


@pytest.fixture
def etag_client() -> APIClient:
    return ReadBeforeWriteClient()


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, name="Double 11")


@pytest.fixture
def department(db):
    return DepartmentFactory(code="merch", name="Merchandising")


@pytest.fixture(autouse=True)
def deviation_reasons(request):
    """The deviation reasons a migration ships, for every test that uses the database
    (transactional tests flush migration data)."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if not (marker or "db" in names or "transactional_db" in names):
        return
    transactional = "transactional_db" in names or (marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from tracker.milestones.services import deviation_reasons_install

    deviation_reasons_install()


@pytest.fixture
def shipped_templates(db):
    """The templates a migration ships. Transactional tests flush the database (and with it
    migration data), so tests that need the templates ask for them explicitly."""
    from tracker.projects.models import ProjectTemplate
    from tracker.projects.services import template_load_shipped

    if ProjectTemplate.objects.filter(code__in=["sale-campaign", "product-launch"]).count() < 2:
        template_load_shipped()
    return {t.code: t for t in ProjectTemplate.objects.all()}
