"""The escalation ladder. Today's single escalation window (`escalate_after`, which told the
owner and the lead at once) becomes the second rung's delay (the department lead). Existing
projects keep their owners hearing when they did: their owner rung gets the same delay, and the
escalation contact one working day (8 working hours) later. New projects take the settings'
defaults (docs/escalation.md)."""

from datetime import timedelta

import django.db.models.deletion
import tracker.projects.models
from django.conf import settings
from django.db import migrations, models


def single_window_to_second_rung(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    for project in Project.objects.only("pk", "escalate_after").iterator():
        Project.objects.filter(pk=project.pk).update(
            escalate_owner_after=project.escalate_after,
            escalate_contact_after=project.escalate_after + timedelta(hours=8),
        )


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0006_baselines_kept'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='escalate_contact_after',
            field=models.DurationField(default=tracker.projects.models.default_escalate_contact_after, verbose_name='escalate to the escalation contact after'),
        ),
        migrations.AddField(
            model_name='project',
            name='escalate_owner_after',
            field=models.DurationField(default=tracker.projects.models.default_escalate_owner_after, verbose_name='escalate to the owner after'),
        ),
        migrations.AddField(
            model_name='project',
            name='escalation_contact',
            field=models.ForeignKey(blank=True, help_text="The ladder's last rung; empty: the organisation's (ESCALATION_CONTACT).", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='escalation contact'),
        ),
        migrations.AddField(
            model_name='project',
            name='nudge_every',
            field=models.DurationField(blank=True, help_text='Working time between repeat nudges; empty: once per working day.', null=True, verbose_name='nudge the assignee every'),
        ),
        migrations.AlterField(
            model_name='project',
            name='escalate_after',
            field=models.DurationField(default=tracker.projects.models.default_escalate_after, verbose_name='escalate to the department lead after'),
        ),
        migrations.RunPython(single_window_to_second_rung, migrations.RunPython.noop),
    ]
