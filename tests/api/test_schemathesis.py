"""Property-based run of the whole API against its own OpenAPI schema (schemathesis): every
operation, as staff and as a plain member, with generated valid and invalid input. No answer
may be a server error, and every documented answer must match its schema."""

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import (
    DepartmentFactory,
    MembershipFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
    make_token,
)
from tracker.accounts.throttling import TokenRateThrottle

EXAMPLES_PER_OPERATION = 20
CONFIG = schemathesis.Config.from_dict(
    {"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}
)


def live_schema() -> schemathesis.BaseSchema:
    """The schema the API serves (built in-process), answered by the real WSGI application."""
    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    loaded = schemathesis.openapi.from_dict(document, config=CONFIG)
    loaded.app = WSGIHandler()
    return loaded


schema = live_schema()


@pytest.fixture
def tokens(db, shipped_templates, monkeypatch):
    staff = UserFactory(username="staff", is_staff=True)
    member = UserFactory(username="member")
    merch = DepartmentFactory(code="merch", lead=UserFactory(username="lead"))
    DepartmentFactory(code="tech")
    MembershipFactory(user=member, department=merch)
    project = ProjectFactory(owner=UserFactory(username="owner"))
    for n in range(3):
        MilestoneFactory(project=project, department=merch, assignee=member if n else None)
    monkeypatch.setattr(TokenRateThrottle, "rate", "100000/minute", raising=False)
    # As Django's test client does: a request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"staff": make_token(staff), "member": make_token(member)}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_contract(case, tokens):
    # Each generated request is sent as staff (who may do everything) and as a member (who
    # is refused most writes): both paths through every operation.
    for token in (tokens["member"], tokens["staff"]):
        case.call_and_validate(
            # The WSGI transport does not inflate GZipMiddleware's answers.
            headers={"Authorization": f"Token {token}", "Accept-Encoding": "identity"},
            checks=[not_a_server_error, response_schema_conformance],
        )
