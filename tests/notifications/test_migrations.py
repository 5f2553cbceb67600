"""Moving the outbox and the channels into `notifications` keeps every row: migrate forwards on a
database that holds them, as an upgrade would."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tracker.notifications.models import (
    Channel,
    NotificationPreference,
    OutboxMessage,
    OutboxStatus,
)

BEFORE = [
    ("alerts", "0004_alert_milestone_unchecked_lean_outbox_indexes"),
    ("integrations", "0004_encrypted_channel_credentials"),
]


@pytest.fixture
def executor(transactional_db):
    executor = MigrationExecutor(connection)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the other tests expect


def test_migrating_forwards_keeps_the_outbox_and_the_channels(executor):
    outbox_type = ContentType.objects.get_for_model(OutboxMessage)
    Permission.objects.get_or_create(
        content_type=outbox_type, codename="view_outboxmessage", defaults={"name": "Can view"}
    )
    executor.migrate([("notifications", None)])  # back to before the move
    executor.loader.build_graph()
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("accounts", "User")
    user = User.objects.create(username="olga", email="olga@example.com")
    channel = old.get_model("integrations", "Channel").objects.create(
        name="War room",
        kind="slack",
        url="https://hooks.slack.com/services/T0/B0/secret",
        events=["overdue"],
    )
    Outbox = old.get_model("alerts", "OutboxMessage")
    Outbox.objects.create(event="alerts", recipient=user, dedupe_key="a:user", payload={"x": 1})
    Outbox.objects.create(event="alerts", channel=channel, dedupe_key="a:channel")
    Outbox.objects.create(event="test", recipient=user, dedupe_key="t", status="sent")
    assert ContentType.objects.filter(app_label="alerts", model="outboxmessage").exists()

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = {m.dedupe_key: m for m in OutboxMessage.objects.select_related("channel")}
    assert set(rows) == {"a:user", "a:channel", "t"}
    assert rows["a:user"].recipient_id == user.pk and rows["a:user"].payload == {"x": 1}
    assert rows["a:channel"].channel.url == "https://hooks.slack.com/services/T0/B0/secret"
    assert {m.status for m in rows.values()} == {OutboxStatus.PENDING, OutboxStatus.SENT}
    assert all(m.claimed_at is None for m in rows.values())
    assert list(Channel.objects.values_list("name", flat=True)) == ["War room"]
    # The content type moved with the model, so permissions granted on it still hold.
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(OutboxMessage).pk == outbox_type.pk
    assert Permission.objects.filter(
        content_type=outbox_type, codename="view_outboxmessage"
    ).exists()


BEFORE_PREFERENCES = [
    ("notifications", "0002_outbox_sending_state"),
    ("accounts", "0004_audit_log"),
]


def test_the_email_mode_becomes_preferences_and_back(executor):
    executor.migrate(BEFORE_PREFERENCES)
    executor.loader.build_graph()
    old = executor.loader.project_state(BEFORE_PREFERENCES).apps
    User = old.get_model("accounts", "User")
    digest = User.objects.create(username="dora", email="dora@example.com", email_mode="digest")
    User.objects.create(username="ivan", email="ivan@example.com", email_mode="immediate")

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = set(NotificationPreference.objects.values_list("user_id", "kind", "channel", "delivery"))
    assert rows == {
        (digest.pk, kind, "email", "digest")
        for kind in ("due_soon", "overdue", "escalation", "resolved")
    }
    columns = [
        c.name
        for c in connection.introspection.get_table_description(
            connection.cursor(), "accounts_user"
        )
    ]
    assert "email_mode" not in columns

    executor.loader.build_graph()
    executor.migrate(BEFORE_PREFERENCES)  # and a downgrade gives the mode back
    executor.loader.build_graph()
    old = executor.loader.project_state(BEFORE_PREFERENCES).apps
    modes = dict(old.get_model("accounts", "User").objects.values_list("username", "email_mode"))
    assert modes == {"dora": "digest", "ivan": "immediate"}
