"""Calendar-feed tokens are stored as their SHA-256 and a short prefix, like API tokens.

Existing feeds keep working: their tokens are hashed in place, so the URLs people already
subscribed to still resolve, and the clear token is dropped.
"""

import hashlib
import secrets

from django.db import migrations, models


def hash_tokens(apps, schema_editor):
    CalendarFeed = apps.get_model("integrations", "CalendarFeed")
    feeds = list(CalendarFeed.objects.only("pk", "token"))
    for feed in feeds:
        feed.prefix = feed.token[:6]
        feed.token_hash = hashlib.sha256(feed.token.encode()).hexdigest()
    CalendarFeed.objects.bulk_update(feeds, ["prefix", "token_hash"], batch_size=500)


def new_plain_tokens(apps, schema_editor):
    """Backwards: hashes cannot be undone, so every feed gets a new URL (the old ones stop)."""
    CalendarFeed = apps.get_model("integrations", "CalendarFeed")
    feeds = list(CalendarFeed.objects.only("pk"))
    for feed in feeds:
        feed.token = secrets.token_urlsafe(32)
    CalendarFeed.objects.bulk_update(feeds, ["token"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0005_channel_moved_to_notifications")]

    operations = [
        migrations.AddField(
            model_name="calendarfeed",
            name="prefix",
            field=models.CharField(default="", editable=False, max_length=6),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="calendarfeed",
            name="token_hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        # Nullable first, so that going back can re-add the column before filling it.
        migrations.AlterField(
            model_name="calendarfeed",
            name="token",
            field=models.CharField(editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.RunPython(hash_tokens, new_plain_tokens),
        migrations.RemoveField(model_name="calendarfeed", name="token"),
        migrations.AlterField(
            model_name="calendarfeed",
            name="token_hash",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
