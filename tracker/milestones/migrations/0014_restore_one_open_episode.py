"""Put back the one-open-episode-per-node constraint that 0013 lost on PostgreSQL.

0013 altered `LatenessEpisode.milestone` to `db_index=False`; Django's schema editor then drops
every single-column btree index on the column that is not one of the model's `Meta.indexes`,
and the partial unique index `milestones_one_open_episode` (a `Meta.constraints` entry) is one
of them. The migration state kept it, so `makemigrations --check` saw nothing; SQLite, which
rebuilds the table from the new state, kept it too. Without it a racing scan could start a
second open episode for a node. A node with more than one open episode (only possible while it
was missing) keeps its earliest; the others are ended when they started, so they add no
lateness. Then the constraint is created where it is missing (tests/core/test_schema.py checks
every model's constraints and indexes against the database)."""

from django.db import migrations
from django.db.models import Count

CONSTRAINT = "milestones_one_open_episode"


def restore(apps, schema_editor):
    episode = apps.get_model("milestones", "LatenessEpisode")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if CONSTRAINT in connection.introspection.get_constraints(cursor, episode._meta.db_table):
            return
    open_episodes = episode.objects.filter(ended_at__isnull=True)
    doubled = (
        open_episodes.values("milestone_id")
        .annotate(open_count=Count("id"))
        .filter(open_count__gt=1)
        .values_list("milestone_id", flat=True)
    )
    for milestone_id in list(doubled):
        _first, *later = open_episodes.filter(milestone_id=milestone_id).order_by(
            "started_at", "id"
        )
        for extra in later:
            extra.ended_at = extra.started_at
            extra.save(update_fields=["ended_at"])
    [constraint] = [c for c in episode._meta.constraints if c.name == CONSTRAINT]
    schema_editor.add_constraint(episode, constraint)


class Migration(migrations.Migration):
    dependencies = [("milestones", "0013_scan_writes_no_node")]

    operations = [migrations.RunPython(restore, migrations.RunPython.noop, elidable=False)]
