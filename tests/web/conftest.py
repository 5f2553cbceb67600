import pytest
from django.test import Client

from tests.factories import DepartmentFactory, MembershipFactory, MilestoneFactory, UserFactory


@pytest.fixture
def client_for(db):
    """A test client signed in as the given user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def lead(db):
    """Lead of the Merchandising department."""
    user = UserFactory(username="lead")
    DepartmentFactory(code="merch", name="Merchandising", lead=user)
    return user


@pytest.fixture
def member(db):
    """A plain member of Design (leads nothing, owns nothing)."""
    user = UserFactory(username="member")
    MembershipFactory(user=user, department=DepartmentFactory(code="design", name="Design"))
    return user


@pytest.fixture
def node(project, lead):
    from tracker.accounts.models import Department

    return MilestoneFactory(
        project=project, department=Department.objects.get(code="merch"), title="Price approval"
    )


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server on loopback, with Django's SMTP backend pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()
