"""Inbox items' node and project are no longer checked by the database (issue 19): see
`InboxItem.project`; the trigger of 0008 deletes a deleted node's items. Their project and
actor indexes go (the actor's stays for the items that have one): the scan's fan-out writes
thousands of items at once, each into every index, and only rare deletions read those."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0009_scan_watermark'),
        ('milestones', '0013_scan_writes_no_node'),
        ('notifications', '0008_inbox_and_comments_go_with_their_nodes'),
        ('projects', '0008_projects_updated_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='inboxitem',
            name='actor',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by'),
        ),
        migrations.AlterField(
            model_name='inboxitem',
            name='milestone',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='milestones.milestone', verbose_name='milestone'),
        ),
        migrations.AlterField(
            model_name='inboxitem',
            name='project',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.project', verbose_name='project'),
        ),
        migrations.AddIndex(
            model_name='inboxitem',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='notifications_inbox_actor'),
        ),
    ]
