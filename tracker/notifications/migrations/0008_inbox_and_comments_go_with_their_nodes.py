"""A node deleted in SQL takes its inbox items and comments with it, as the triggers of alerts
0004 and 0008 take its alerts and lateness episodes (PostgreSQL only, for the same reasons):
Django's cascade does it first when the ORM deletes the node. The foreign keys are checked at
commit (deferred), after this statement-level trigger has run."""

from django.db import migrations

DELETE_TRIGGER = """
CREATE FUNCTION inbox_delete_with_milestones() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notifications_inboxitem
        WHERE milestone_id IN (SELECT id FROM deleted_milestones);
    DELETE FROM milestones_comment WHERE milestone_id IN (SELECT id FROM deleted_milestones);
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_delete_with_milestones
    AFTER DELETE ON milestones_milestone
    REFERENCING OLD TABLE AS deleted_milestones
    FOR EACH STATEMENT EXECUTE FUNCTION inbox_delete_with_milestones();
"""
DROP_DELETE_TRIGGER = """
DROP TRIGGER inbox_delete_with_milestones ON milestones_milestone;
DROP FUNCTION inbox_delete_with_milestones();
"""


def create_delete_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DELETE_TRIGGER)


def drop_delete_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_DELETE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0007_inbox_comments")]

    operations = [migrations.RunPython(create_delete_trigger, drop_delete_trigger)]
