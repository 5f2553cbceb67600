"""Project services: template scheduling, baselines, re-anchoring and the default windows."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.milestones.models import MilestoneChange
from tracker.projects.models import ProjectStatus, ProjectTemplate, TemplateNode
from tracker.projects.services import (
    project_baseline,
    project_create,
    project_reanchor,
    template_schedule,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_templates")]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_schedule_uses_the_local_date_of_the_d_day():
    template = ProjectTemplate.objects.get(code="sale-campaign")
    # 2026-11-11 00:00 in Shanghai is still 2026-11-10 in UTC: the local date must win.
    d_day = datetime(2026, 11, 11, 0, 0, tzinfo=SHANGHAI)
    schedule = {node.key: node for node in template_schedule(template=template, d_day=d_day)}
    assert schedule["go-live"].due_at == d_day
    # 43 working days before (National Day and Mid-Autumn in between), 7 working days after.
    assert schedule["kickoff"].due_at == datetime(2026, 9, 7, 10, 0, tzinfo=SHANGHAI)
    assert schedule["post-campaign-review"].due_at == datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)


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


def test_baseline_leaves_a_history_row_on_every_node():
    project = ProjectFactory()
    actor = project.owner
    nodes = [MilestoneFactory(project=project) for _ in range(3)]
    project_baseline(project=project, actor=actor)
    history = MilestoneChange.objects.filter(field="baseline_due_at")
    assert sorted(history.values_list("milestone", "new_value", "actor")) == [
        (n.pk, n.due_at.isoformat(), actor.pk) for n in nodes
    ]


def test_creating_an_active_project_from_a_template_records_creation_and_baseline():
    for code in {
        n.department_code for n in TemplateNode.objects.filter(template__code="sale-campaign")
    }:
        DepartmentFactory(code=code)
    owner = UserFactory()
    project = project_create(
        actor=owner,
        name="Double 11",
        kind="campaign",
        d_day=timezone.now() + timedelta(days=60),
        owner=owner,
        template=ProjectTemplate.objects.get(code="sale-campaign"),
        status=ProjectStatus.ACTIVE,
    )
    count = project.milestones.count()
    assert count and project.baselined_at is not None
    history = MilestoneChange.objects.filter(milestone__project=project)
    assert {f: history.filter(field=f).count() for f in ("created", "baseline_due_at")} == {
        "created": count,
        "baseline_due_at": count,
    }
    assert set(history.values_list("actor", flat=True)) == {owner.pk}


@override_settings(DUE_SOON_HOURS=6, ESCALATE_AFTER_HOURS=12)
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, (timedelta(hours=6), timedelta(hours=12))),
        ({"due_soon_window": timedelta(hours=2)}, (timedelta(hours=2), timedelta(hours=12))),
        (
            {"due_soon_window": timedelta(days=3), "escalate_after": timedelta(hours=1)},
            (timedelta(days=3), timedelta(hours=1)),
        ),
    ],
    ids=["settings", "one given", "both given"],
)
def test_new_projects_take_their_windows_from_the_settings_unless_given(given, expected):
    owner = UserFactory()
    project = project_create(
        actor=owner,
        name="Launch",
        kind="launch",
        d_day=timezone.now() + timedelta(days=30),
        owner=owner,
        **given,
    )
    project.refresh_from_db()
    assert (project.due_soon_window, project.escalate_after) == expected


@override_settings(DUE_SOON_HOURS=3, ESCALATE_AFTER_HOURS=5)
def test_the_model_default_reads_the_settings_too():
    project = ProjectFactory()
    assert (project.due_soon_window, project.escalate_after) == (
        timedelta(hours=3),
        timedelta(hours=5),
    )
