"""export_all → import_all into a fresh database: every table comes back, row for row.

The source is itself a fresh database, filled the way an operator's would be (demo data, a
scan, a weekly report, a channel, tokens, a group, an admin log entry), all through the
commands, which the restore then goes through too.
"""

from __future__ import annotations

import json
import os
import uuid

import psycopg
import pytest

from tests.alerts.support import manage_py
from tests.ops.conftest import admin_execute, server_url

pytestmark = pytest.mark.slow
PASSPHRASE = "correct horse battery staple"

SEED = """
from django.core.management import call_command
call_command("seed_demo")
call_command("flag_overdue")
call_command("weekly_report", "--send")
call_command("issue_token", "owner", "--scope", "write")
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from tracker.accounts.models import User
from tracker.integrations.services import calendar_feed_create
from tracker.notifications.models import Channel
from tracker.projects.models import Project
owner = User.objects.get(username="owner")
project = Project.objects.order_by("pk").first()
Channel.objects.create(name="War room", kind="feishu", project=project, events=["overdue"],
    url="https://open.feishu.cn/open-apis/bot/v2/hook/abc", secret="s3cret-value")
calendar_feed_create(user=owner)
group = Group.objects.create(name="auditors")
group.permissions.add(Permission.objects.get(codename="view_milestone"))
owner.groups.add(group)
owner.muted_projects.add(project)
LogEntry.objects.create(user=owner, content_type=ContentType.objects.get_for_model(Project),
    object_id=str(project.pk), object_repr=project.name, action_flag=CHANGE, change_message="[]")
"""
SHOW_CHANNELS = """
import json
from tracker.notifications.models import Channel
print(json.dumps([[c.name, c.url, c.secret, c.is_active] for c in Channel.objects.all()]))
"""


def env(database_url: str, tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MILEPOST_VAR_DIR": str(tmp_path),
        "MILEPOST_ARCHIVE_PASSPHRASE": PASSPHRASE,
    }


def run(database_url: str, tmp_path, *args: str) -> str:
    result = manage_py(*args, env=env(database_url, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def shell(database_url: str, tmp_path, code: str) -> str:
    """What `code` printed last (`shell` first says what it imported)."""
    return run(database_url, tmp_path, "shell", "-c", code).strip().splitlines()[-1]


def table_checksums(database_url: str, leave_out: dict[str, set[str]]) -> dict[str, tuple]:
    """Row count and an order-independent checksum of every table, from the database."""
    with psycopg.connect(database_url) as conn:
        columns: dict[str, list[str]] = {}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ):
            if table != "django_migrations" and column not in leave_out.get(table, set()):
                columns.setdefault(table, []).append(f'"{column}"')
        found = {}
        for table, names in columns.items():
            row = f"md5(ROW({', '.join(names)})::text)"
            digest = f"coalesce(md5(string_agg({row}, '' ORDER BY {row})), '')"
            found[table] = conn.execute(f'SELECT count(*), {digest} FROM "{table}"').fetchone()
        return found


@pytest.fixture(scope="module")
def source(migrated_template, tmp_path_factory):
    """A seeded database and its two archives, with and without secrets."""
    tmp = tmp_path_factory.mktemp("archive")
    name = f"milepost_src_{uuid.uuid4().hex[:10]}"
    admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    url = server_url(name)
    try:
        (tmp / "broker").mkdir()
        run(url, tmp, "shell", "-c", SEED)
        run(url, tmp, "export_all", str(tmp / "plain.zip"))
        run(url, tmp, "export_all", "--with-secrets", str(tmp / "secret.zip"))
        yield url, tmp
    finally:
        admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ENCRYPTED = {"integrations_channel": {"url", "secret"}}  # ciphertexts differ by design


def test_restore_with_secrets_gives_back_every_table(source, fresh_database):
    url, tmp = source
    target = fresh_database()
    out = run(target, tmp, "import_all", str(tmp / "secret.zip"))
    assert "Restored" in out

    before, after = table_checksums(url, ENCRYPTED), table_checksums(target, ENCRYPTED)
    assert before == after
    counts = {table: count for table, (count, _) in before.items()}
    # The story is all there: nothing compared equal because it was empty.
    for table in (
        "milestones_milestone",
        "milestones_milestonechange",
        "alerts_alert",
        "alerts_outboxmessage",
        "reports_reportsnapshot",
        "accounts_apitoken",
        "integrations_calendarfeed",
        "auth_group_permissions",
        "django_admin_log",
        "django_celery_beat_periodictask",
        "accounts_user_muted_projects",
    ):
        assert counts[table] > 0, table
    channels = json.loads(shell(target, tmp, SHOW_CHANNELS))
    assert channels == [
        ["War room", "https://open.feishu.cn/open-apis/bot/v2/hook/abc", "s3cret-value", True]
    ]
    # The API token still works: its hash came back.
    usable = (
        "from tracker.accounts.models import ApiToken; "
        "print(sum(token.is_usable for token in ApiToken.objects.all()))"
    )
    assert shell(target, tmp, usable) == "1"


def test_restore_without_secrets_pauses_channels_and_drops_credentials(source, fresh_database):
    url, tmp = source
    target = fresh_database()
    out = run(target, tmp, "import_all", str(tmp / "plain.zip"))
    assert "1 channels are paused until their webhook URL and secret are entered again" in out
    leave_out = {
        **ENCRYPTED,
        "integrations_channel": {"url", "secret", "is_active"},
        "accounts_user": {"password"},
    }
    before, after = table_checksums(url, leave_out), table_checksums(target, leave_out)
    credentials = {"accounts_apitoken", "integrations_calendarfeed"}
    assert {t: c for t, c in before.items() if t not in credentials} == {
        t: c for t, c in after.items() if t not in credentials
    }
    assert after["accounts_apitoken"][0] == after["integrations_calendarfeed"][0] == 0
    channels = json.loads(shell(target, tmp, SHOW_CHANNELS))
    assert channels == [["War room", "https://re-enter-url-after-restore.invalid/", "", False]]
    with psycopg.connect(target) as conn:
        assert conn.execute(
            "SELECT count(*) FROM accounts_user WHERE password NOT LIKE '!%%'"
        ).fetchone() == (0,)


def test_a_second_import_and_a_wrong_passphrase_are_refused(source, fresh_database):
    url, tmp = source
    refused = manage_py("import_all", str(tmp / "plain.zip"), env=env(url, tmp))
    assert refused.returncode == 1
    assert "The database is not empty" in refused.stderr
    target = fresh_database()
    wrong = manage_py(
        "import_all",
        str(tmp / "secret.zip"),
        env={**env(target, tmp), "MILEPOST_ARCHIVE_PASSPHRASE": "not the passphrase"},
    )
    assert "Wrong passphrase" in wrong.stderr
    with psycopg.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM accounts_user").fetchone() == (0,)
