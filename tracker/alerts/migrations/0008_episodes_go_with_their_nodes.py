"""A node deleted in SQL takes its lateness episodes, promises and snoozes with it, as the
trigger of migration 0004 takes its alerts (PostgreSQL only, for the same reasons): Django's
cascade does it first when the ORM deletes the node. The foreign keys are checked at commit
(deferred), after this statement-level trigger has run."""

from django.db import migrations

DELETE_TRIGGER = """
CREATE FUNCTION episodes_delete_with_milestones() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM alerts_alertsnooze WHERE episode_id IN (
        SELECT id FROM milestones_latenessepisode
        WHERE milestone_id IN (SELECT id FROM deleted_milestones)
    ) OR alert_id IN (
        SELECT id FROM alerts_alert WHERE milestone_id IN (SELECT id FROM deleted_milestones)
    );
    DELETE FROM milestones_promise WHERE milestone_id IN (SELECT id FROM deleted_milestones);
    DELETE FROM milestones_latenessepisode
        WHERE milestone_id IN (SELECT id FROM deleted_milestones);
    RETURN NULL;
END
$$;
CREATE TRIGGER episodes_delete_with_milestones
    AFTER DELETE ON milestones_milestone
    REFERENCING OLD TABLE AS deleted_milestones
    FOR EACH STATEMENT EXECUTE FUNCTION episodes_delete_with_milestones();
"""
DROP_DELETE_TRIGGER = """
DROP TRIGGER episodes_delete_with_milestones ON milestones_milestone;
DROP FUNCTION episodes_delete_with_milestones();
"""


def create_delete_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DELETE_TRIGGER)


def drop_delete_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_DELETE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0007_episode_alerts_snoozes"),
        ("milestones", "0006_lateness_episodes_promises"),
    ]

    operations = [migrations.RunPython(create_delete_trigger, drop_delete_trigger)]
