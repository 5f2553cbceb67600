"""The scan no longer writes the node (issue 19): what it judged overdue is the node's open
lateness episode and the overdue step's mark (`alerts.ScanMark` "overdue"), so the flag and its
partial index go; open nodes by due date take the index's place, and the written-since index
carries the due date. The episodes' foreign keys are no longer checked by the database
(`LatenessEpisode.milestone`: the node-deletion lock and the trigger of alerts 0008 keep them),
and the node's own index is the (node, start) one's."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_email_mode_moved_to_preferences'),
        ('milestones', '0012_episode_probe_indexes'),
        ('projects', '0008_projects_updated_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='milestone',
            name='milestones_open_unflagged_due',
        ),
        migrations.RemoveIndex(
            model_name='milestone',
            name='milestones_updated',
        ),
        migrations.AlterField(
            model_name='latenessepisode',
            name='milestone',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='episodes', to='milestones.milestone', verbose_name='milestone'),
        ),
        migrations.AlterField(
            model_name='latenessepisode',
            name='project',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.project'),
        ),
        migrations.AddIndex(
            model_name='milestone',
            index=models.Index(condition=models.Q(('status__in', ['todo', 'in_progress', 'blocked'])), fields=['due_at'], name='milestones_open_due'),
        ),
        migrations.AddIndex(
            model_name='milestone',
            index=models.Index(fields=['updated_at', 'due_at'], name='milestones_updated_due'),
        ),
        migrations.RemoveField(
            model_name='milestone',
            name='overdue_flagged_at',
        ),
    ]
