"""Channel URLs and secrets are stored encrypted (tracker.core.crypto); existing ones too."""

from django.db import migrations

import tracker.core.fields
from tracker.core.crypto import decrypt, encrypt


def _rewrite(schema_editor, convert) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, url, secret FROM integrations_channel")
        for pk, url, secret in cursor.fetchall():
            cursor.execute(
                "UPDATE integrations_channel SET url = %s, secret = %s WHERE id = %s",
                [convert(url), convert(secret), pk],
            )


def encrypt_existing(apps, schema_editor):
    _rewrite(schema_editor, encrypt)


def decrypt_existing(apps, schema_editor):
    _rewrite(schema_editor, decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_calendarfeed_partial_unique"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="secret",
            field=tracker.core.fields.EncryptedCharField(
                blank=True, max_length=200, verbose_name="secret"
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="url",
            field=tracker.core.fields.EncryptedURLField(max_length=500, verbose_name="webhook URL"),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
