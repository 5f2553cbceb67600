"""Inbox items' node and project are no longer checked by the database (issue 19): see
`InboxItem.project`; the trigger of 0008 deletes a deleted node's items."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('milestones', '0013_scan_writes_no_node'),
        ('notifications', '0008_inbox_and_comments_go_with_their_nodes'),
        ('projects', '0007_escalation_ladder'),
    ]

    operations = [
        migrations.AlterField(
            model_name='inboxitem',
            name='milestone',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='milestones.milestone', verbose_name='milestone'),
        ),
        migrations.AlterField(
            model_name='inboxitem',
            name='project',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.project', verbose_name='project'),
        ),
    ]
