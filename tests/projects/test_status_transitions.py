"""A project's status moves plan → active → closed → archived, one step at a time, plus
planning → archived (a plan abandoned) and closed → active (re-opened); archived is final.
One rule (`ProjectStatus.allowed_next`, enforced by `project_status_check`) for the service,
the API and the settings page; creating a project is no transition."""

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from tests.factories import ProjectFactory, UserFactory
from tracker.accounts.models import AuditEntry
from tracker.projects.models import ProjectStatus
from tracker.projects.services import project_create, project_update

pytestmark = pytest.mark.django_db

PLANNING, ACTIVE, CLOSED, ARCHIVED = (
    ProjectStatus.PLANNING,
    ProjectStatus.ACTIVE,
    ProjectStatus.CLOSED,
    ProjectStatus.ARCHIVED,
)
ALLOWED = {
    (PLANNING, ACTIVE),
    (PLANNING, ARCHIVED),
    (ACTIVE, CLOSED),
    (CLOSED, ARCHIVED),
    (CLOSED, ACTIVE),
}
CHANGES = [(old, new) for old, new in itertools.permutations(ProjectStatus.values, 2)]


def test_the_table_of_moves():
    assert {
        (old, new) for old in ProjectStatus.values for new in ProjectStatus.allowed_next(old)
    } == ALLOWED
    assert ProjectStatus.allowed_next(ARCHIVED) == []


def status_audits(project) -> list[tuple[str, str]]:
    return list(
        AuditEntry.objects.filter(project_ref=project.pk, field="status")
        .order_by("id")
        .values_list("old_value", "new_value")
    )


@pytest.mark.parametrize(("old", "new"), CHANGES)
def test_the_service_allows_the_moves_of_the_table_and_refuses_the_others(old, new):
    owner = UserFactory()
    project = ProjectFactory(owner=owner, status=old)
    if (old, new) in ALLOWED:
        project_update(project=project, actor=owner, data={"status": new})
        project.refresh_from_db()
        assert project.status == new
        assert status_audits(project) == [(old, new)]
        return
    with pytest.raises(ValidationError) as refused:
        project_update(project=project, actor=owner, data={"status": new, "name": "Renamed"})
    (message,) = refused.value.message_dict["status"]
    allowed = [str(ProjectStatus(s).label) for s in ProjectStatus.allowed_next(old)]
    assert all(label in message for label in allowed), message
    project.refresh_from_db()
    assert (project.status, project.name) != (new, "Renamed") and project.status == old
    assert project.name != "Renamed"  # nothing of the save is kept
    assert status_audits(project) == []


def test_reopening_a_closed_project_is_the_owners_or_staffs():
    owner, stranger, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    project = ProjectFactory(owner=owner, status=CLOSED)
    from tracker.core.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        project_update(project=project, actor=stranger, data={"status": ACTIVE})
    project_update(project=project, actor=staff, data={"status": ACTIVE})
    project.refresh_from_db()
    assert project.status == ACTIVE


def test_the_same_status_is_no_change():
    owner = UserFactory()
    project = ProjectFactory(owner=owner, status=ARCHIVED)
    project_update(project=project, actor=owner, data={"status": ARCHIVED})
    assert status_audits(project) == []


@pytest.mark.parametrize("status", ProjectStatus.values)
def test_creation_may_start_in_any_status(status):
    owner = UserFactory()
    project = project_create(
        actor=owner,
        name="Past or present",
        kind="campaign",
        d_day=timezone.now() + timedelta(days=30),
        owner=owner,
        status=status,
    )
    project.refresh_from_db()
    assert project.status == status
    assert (project.baselined_at is not None) == (status == ACTIVE)


def test_the_refusal_speaks_chinese():
    owner = UserFactory()
    project = ProjectFactory(owner=owner, status=PLANNING)
    with override("zh-hans"), pytest.raises(ValidationError) as refused:
        project_update(project=project, actor=owner, data={"status": CLOSED})
    assert refused.value.message_dict["status"] == ["“规划中”的项目只能改为：执行中、已归档。"]


# The API ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"), [(PLANNING, CLOSED), (ACTIVE, PLANNING), (ARCHIVED, ACTIVE)]
)
def test_the_api_refuses_a_move_off_the_table_with_a_400_on_status(api_client, old, new):
    owner = UserFactory()
    project = ProjectFactory(owner=owner, status=old)
    api_client.force_login(owner)
    response = api_client.patch(
        f"/api/v1/projects/{project.pk}/", {"status": new, "name": "Renamed"}, format="json"
    )
    assert response.status_code == 400, response.content
    (message,) = response.json()["status"]
    assert all(str(ProjectStatus(s).label) in message for s in ProjectStatus.allowed_next(old)), (
        message
    )
    project.refresh_from_db()
    assert (project.status, project.name) == (old, project.name) and project.name != "Renamed"
    assert status_audits(project) == []


def test_the_api_walks_a_project_through_its_life(api_client):
    owner = UserFactory()
    project = ProjectFactory(owner=owner, status=PLANNING)
    api_client.force_login(owner)
    for new in (ACTIVE, CLOSED, ACTIVE, CLOSED, ARCHIVED):
        response = api_client.patch(
            f"/api/v1/projects/{project.pk}/", {"status": new}, format="json"
        )
        assert (response.status_code, response.json()["status"]) == (200, new)
    assert [new for _old, new in status_audits(project)] == [
        ACTIVE,
        CLOSED,
        ACTIVE,
        CLOSED,
        ARCHIVED,
    ]


def test_the_api_creates_a_project_in_any_status(api_client):
    owner = UserFactory()
    api_client.force_login(owner)
    response = api_client.post(
        "/api/v1/projects/",
        {
            "name": "Done before",
            "kind": "campaign",
            "d_day": "2027-11-11T00:00:00+08:00",
            "status": "closed",
        },
        format="json",
    )
    assert (response.status_code, response.json()["status"]) == (201, "closed")


# The settings page ------------------------------------------------------------------------


@pytest.fixture
def client_for(client):
    def make(user):
        client.force_login(user)
        return client

    return make


def _settings_url(project):
    return reverse("web:project_settings", args=[project.pk])


def test_the_settings_page_offers_only_the_allowed_statuses(client_for):
    owner = UserFactory()
    project = ProjectFactory(owner=owner, status=ACTIVE)
    page = client_for(owner).get(_settings_url(project)).content.decode()
    status_select = page.split('name="status"', 1)[1].split("</select>", 1)[0]
    assert 'value="active"' in status_select and 'value="closed"' in status_select
    assert 'value="planning"' not in status_select and 'value="archived"' not in status_select


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "A project that is “Active” can move only to: Closed."),
        ("zh-hans", "“执行中”的项目只能改为：已结束。"),
    ],
)
def test_the_settings_page_refuses_a_move_off_the_table_with_a_form_error(
    client_for, language, expected
):
    from tests.web.test_projects import _settings_data

    owner = UserFactory(language=language)
    project = ProjectFactory(owner=owner, status=ACTIVE, war_room=False)
    client = client_for(owner)
    response = client.post(
        _settings_url(project), _settings_data(project, status=PLANNING, name="Renamed")
    )
    assert response.status_code == 422
    assert response.context["form"].errors["status"] == [expected]
    project.refresh_from_db()
    assert (project.status, project.name != "Renamed") == (ACTIVE, True)
    assert status_audits(project) == []


def test_the_admin_shows_the_status_read_only(client_for):
    staff = UserFactory(is_staff=True, is_superuser=True)
    project = ProjectFactory(status=ACTIVE)
    page = client_for(staff).get(reverse("admin:projects_project_change", args=[project.pk]))
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()  # the settings page and API change it
