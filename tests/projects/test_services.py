"""Project services: template scheduling, baselines and re-anchoring."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from tests.factories import MilestoneFactory, ProjectFactory
from tracker.milestones.models import MilestoneChange
from tracker.projects.models import ProjectTemplate
from tracker.projects.services import project_baseline, project_reanchor, template_schedule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_templates")]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_schedule_uses_the_local_date_of_the_d_day():
    template = ProjectTemplate.objects.get(code="sale-campaign")
    # 2026-11-11 00:00 in Shanghai is still 2026-11-10 in UTC: the local date must win.
    d_day = datetime(2026, 11, 11, 0, 0, tzinfo=SHANGHAI)
    schedule = {node.key: node for node in template_schedule(template=template, d_day=d_day)}
    assert schedule["go-live"].due_at == d_day
    assert schedule["kickoff"].due_at == datetime(2026, 9, 12, 10, 0, tzinfo=SHANGHAI)
    assert schedule["post-campaign-review"].due_at == datetime(2026, 11, 21, 15, 0, tzinfo=SHANGHAI)


@override_settings(TIME_ZONE="UTC")
def test_schedule_follows_the_configured_time_zone():
    template = ProjectTemplate.objects.get(code="sale-campaign")
    d_day = datetime(2026, 11, 11, 0, 0, tzinfo=SHANGHAI)  # 2026-11-10 16:00 UTC
    with timezone.override("UTC"):
        schedule = {node.key: node for node in template_schedule(template=template, d_day=d_day)}
    assert schedule["go-live"].due_at == datetime(2026, 11, 10, 0, 0, tzinfo=ZoneInfo("UTC"))


def test_reanchor_needs_a_reason_and_zero_move_is_a_no_op():
    project = ProjectFactory()
    MilestoneFactory(project=project)
    with pytest.raises(ValidationError):
        project_reanchor(
            project=project, new_d_day=project.d_day + timedelta(days=1), reason=" ", actor=None
        )
    assert (
        project_reanchor(project=project, new_d_day=project.d_day, reason="same", actor=None) == 0
    )
    assert not MilestoneChange.objects.filter(field="due_at").exists()


def test_baseline_is_locked_once_taken():
    project = ProjectFactory()
    node = MilestoneFactory(project=project)
    project_baseline(project=project, actor=None)
    node.refresh_from_db()
    assert node.baseline_due_at == node.due_at and node.version == 2
    with pytest.raises(ValidationError, match="locked"):
        project_baseline(project=project, actor=None)
