import re

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


# The tests that also run on `make run`'s SQLite (`make test` runs them a second time there):
# the alert pipeline, from the scan to the outbox, the reports and the demo data.
EMBEDDED = ("tests/alerts/", "tests/demo/", "tests/reports/")


def pytest_collection_modifyitems(config, items):
    """Mark the embedded tests; on SQLite run only those, and skip the ones that test a
    PostgreSQL statement (`@pytest.mark.postgresql(reason=…)`)."""
    for item in items:
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
