"""Channel URLs and secrets are stored encrypted, read back plain, and survive a key rotation."""

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection

from tracker.core.crypto import PREFIX, UndecryptableError
from tracker.notifications.models import Channel

pytestmark = pytest.mark.django_db

URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
SECRET = "SEC0123456789abcdef"
OLD_KEY = "an-old-secret-key-that-was-rotated-out-0123456789"

migration = importlib.import_module(
    "tracker.integrations.migrations.0004_encrypted_channel_credentials"
)


def stored(channel: Channel) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM integrations_channel WHERE id = %s", [channel.pk])
        return cursor.fetchone()


def store_plain(channel: Channel, url: str, secret: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE integrations_channel SET url = %s, secret = %s WHERE id = %s",
            [url, secret, channel.pk],
        )


def make_channel(**fields) -> Channel:
    fields = {"name": "war room", "kind": "slack", "url": URL, "secret": SECRET, **fields}
    return Channel.objects.create(events=["overdue"], **fields)


def test_stored_encrypted_read_back_plain():
    channel = make_channel()
    url, secret = stored(channel)
    assert url.startswith(PREFIX) and secret.startswith(PREFIX)
    assert "XXXXXXXX" not in url and SECRET not in secret
    again = Channel.objects.get(pk=channel.pk)
    assert (again.url, again.secret) == (URL, SECRET)
    assert again.url_display == "https://hooks.slack.com/…"


def test_a_secret_that_looks_encrypted_reads_back_as_typed():
    channel = make_channel(secret=PREFIX + "not-a-token")
    assert Channel.objects.get(pk=channel.pk).secret == PREFIX + "not-a-token"


def test_no_secret_stays_empty():
    channel = make_channel(secret="")
    assert stored(channel)[1] == ""
    assert Channel.objects.get(pk=channel.pk).secret == ""


def test_a_rotated_key_still_reads_until_saved_again(settings):
    settings.SECRET_KEY = OLD_KEY
    channel = make_channel()
    written_under_old_key = stored(channel)

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-key-" + "n" * 40, [OLD_KEY]
    again = Channel.objects.get(pk=channel.pk)
    assert (again.url, again.secret) == (URL, SECRET)
    again.save()
    assert stored(channel) != written_under_old_key

    settings.SECRET_KEY_FALLBACKS = []
    assert Channel.objects.get(pk=channel.pk).secret == SECRET


def test_a_lost_key_is_a_clear_error(settings):
    settings.SECRET_KEY = OLD_KEY
    channel = make_channel()
    settings.SECRET_KEY = "the-new-key-" + "n" * 40
    with pytest.raises(UndecryptableError, match="SECRET_KEY_FALLBACKS"):
        Channel.objects.get(pk=channel.pk)


def test_plain_values_from_before_are_read_and_encrypted_by_the_migration():
    channel = make_channel()
    store_plain(channel, URL, SECRET)
    assert Channel.objects.get(pk=channel.pk).secret == SECRET

    schema_editor = SimpleNamespace(connection=connection)
    migration.encrypt_existing(None, schema_editor)
    url, secret = stored(channel)
    assert url.startswith(PREFIX) and secret.startswith(PREFIX)
    assert Channel.objects.get(pk=channel.pk).url == URL

    migration.decrypt_existing(None, schema_editor)
    assert stored(channel) == (URL, SECRET)
