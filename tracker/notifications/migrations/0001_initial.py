"""The outbox and the chat channels move from `alerts` and `integrations` into this app.

State only: the tables keep their names (`alerts_outboxmessage`, `integrations_channel`) and
their rows, indexes and constraints; the database is not touched. The content types follow, so
permissions granted on them are kept.
"""

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models

import tracker.core.fields

MOVED = {"outboxmessage": "alerts", "channel": "integrations"}


def relabel(apps, model: str, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=target, model=model).exists():
        ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types(apps, schema_editor):
    for model, old in MOVED.items():
        relabel(apps, model, old, "notifications")


def move_content_types_back(apps, schema_editor):
    for model, old in MOVED.items():
        relabel(apps, model, "notifications", old)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_initial"),
        ("alerts", "0004_alert_milestone_unchecked_lean_outbox_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0004_encrypted_channel_credentials"),
        ("projects", "0002_shipped_templates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Channel',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('name', models.CharField(max_length=100, verbose_name='name')),
                        ('kind', models.CharField(choices=[('feishu', 'Feishu / Lark'), ('dingtalk', 'DingTalk'), ('wecom', 'WeCom'), ('slack', 'Slack'), ('teams', 'Microsoft Teams'), ('webhook', 'Signed webhook (Standard Webhooks)')], max_length=10, verbose_name='kind')),
                        ('url', tracker.core.fields.EncryptedURLField(max_length=500, verbose_name='webhook URL')),
                        ('secret', tracker.core.fields.EncryptedCharField(blank=True, max_length=200, verbose_name='secret')),
                        ('events', models.JSONField(default=list, verbose_name='events')),
                        ('is_active', models.BooleanField(default=True, verbose_name='active')),
                        ('language', models.CharField(choices=[('en', 'English'), ('zh-hans', 'Simplified Chinese')], default='en', max_length=10, verbose_name='message language')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('department', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='channels', to='accounts.department', verbose_name='department')),
                        ('project', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='channels', to='projects.project', verbose_name='project')),
                    ],
                    options={
                        'verbose_name': 'channel',
                        'verbose_name_plural': 'channels',
                        'db_table': 'integrations_channel',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='OutboxMessage',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('event', models.CharField(choices=[('alerts', 'Alerts'), ('digest', 'Daily digest'), ('weekly_report', 'Weekly report'), ('monthly_report', 'Monthly report'), ('test', 'Test message')], max_length=20, verbose_name='event')),
                        ('payload', models.JSONField(blank=True, default=dict, verbose_name='payload')),
                        ('dedupe_key', models.CharField(editable=False, max_length=200)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('held', 'Held for the daily digest'), ('merged', 'Sent in a digest'), ('sent', 'Sent'), ('failed', 'Failed'), ('skipped', 'Skipped (nothing left to send)')], default='pending', max_length=10, verbose_name='status')),
                        ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='next attempt')),
                        ('last_error', models.TextField(blank=True, verbose_name='last error')),
                        ('subject', models.CharField(blank=True, max_length=300, verbose_name='subject')),
                        ('response', models.TextField(blank=True, verbose_name='answer')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                        ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                        ('channel', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='outbox_messages', to='notifications.channel', verbose_name='channel')),
                        ('recipient', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='outbox_messages', to=settings.AUTH_USER_MODEL, verbose_name='recipient')),
                    ],
                    options={
                        'verbose_name': 'outbox message',
                        'verbose_name_plural': 'outbox messages',
                        'db_table': 'alerts_outboxmessage',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='channel',
                    constraint=models.CheckConstraint(condition=models.Q(('project__isnull', True), ('department__isnull', True), _connector='OR'), name='integrations_channel_one_scope'),
                ),
                migrations.AddIndex(
                    model_name='outboxmessage',
                    index=models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='alerts_outbox_pending_due'),
                ),
                migrations.AddIndex(
                    model_name='outboxmessage',
                    index=models.Index(fields=['status', 'created_at'], name='alerts_outb_status_808eca_idx'),
                ),
                migrations.AddIndex(
                    model_name='outboxmessage',
                    index=models.Index(condition=models.Q(('channel__isnull', False)), fields=['channel'], name='alerts_outbox_channel'),
                ),
                migrations.AddConstraint(
                    model_name='outboxmessage',
                    constraint=models.CheckConstraint(condition=models.Q(('recipient__isnull', True), ('channel__isnull', True), _connector='XOR'), name='alerts_outbox_one_destination'),
                ),
                migrations.AddConstraint(
                    model_name='outboxmessage',
                    constraint=models.UniqueConstraint(fields=('dedupe_key',), name='alerts_outbox_dedupe_key'),
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
