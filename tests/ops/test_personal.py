"""A person's own data: exported whole, erased on request with the history kept."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from tests.alerts.support import make_team
from tests.factories import UserFactory
from tracker.accounts.models import ApiToken, Membership
from tracker.accounts.services import token_issue
from tracker.integrations.models import CalendarFeed
from tracker.integrations.services import calendar_feed_create
from tracker.milestones.models import MilestoneChange
from tracker.milestones.services import milestone_update
from tracker.notifications.models import OutboxMessage
from tracker.ops.personal import person_data_export, person_erase
from tracker.reports.models import ReportSnapshot


@pytest.fixture
def story(db):
    team = make_team()
    node = team.node(timezone.now())
    milestone_update(actor=team.owner, milestone_id=node.pk, data={"assignee": team.lead})
    milestone_update(actor=team.lead, milestone_id=node.pk, data={"title": "Price check"})
    Membership.objects.create(user=team.assignee, department=team.department)
    token_issue(user=team.assignee, scope="read", expires_in=None, name="bot")
    calendar_feed_create(user=team.assignee)
    OutboxMessage.objects.create(
        event="alerts", recipient=team.assignee, dedupe_key="1", subject="1 alert"
    )
    now = timezone.now()
    ReportSnapshot.objects.create(
        kind="week",
        label="2026-W47",
        period_start=now,
        period_end=now,
        as_of=now,
        data={"worst": [{"assignee": "lena", "title": "Price check"}], "note": "lenakov"},
    )
    return team, node


def test_export_holds_everything_about_the_person_but_credentials(story):
    team, node = story
    data = person_data_export(user=team.assignee)
    assert data["profile"]["username"] == "lena" and data["profile"]["email"] == "lena@example.com"
    assert [d["department__code"] for d in data["departments"]] == ["merch"]
    assert data["api_tokens"][0]["name"] == "bot" and "key_hash" not in data["api_tokens"][0]
    assert data["emails"][0]["subject"] == "1 alert"
    [feed] = data["calendar_feeds"]
    assert not {"token", "token_hash"} & set(feed)
    json.dumps(data)  # JSON-ready
    lead = person_data_export(user=team.lead)
    assert {(c["field"], c["new_value"]) for c in lead["history_written"]} == {
        ("title", "Price check")
    }
    assert [n["id"] for n in lead["nodes_assigned"]] == [node.pk]


def test_erasure_anonymises_and_keeps_the_history(story, staff):
    team, node = story
    result = person_erase(actor=staff, user=team.assignee)
    person = type(team.assignee).objects.get(pk=team.assignee.pk)
    assert person.username == result.username == f"erased-{person.pk}"
    assert (person.email, person.first_name, person.last_name, person.is_active) == (
        "",
        "",
        "",
        False,
    )
    assert not person.has_usable_password()
    assert not ApiToken.objects.filter(user=person).exists()
    assert not CalendarFeed.objects.filter(user=person).exists()
    assert not Membership.objects.filter(user=person).exists()
    assert not OutboxMessage.objects.filter(recipient=person).exists()
    # The assignee change still shows, naming the anonymised account instead of "lena".
    change = MilestoneChange.objects.get(milestone=node, field="assignee")
    assert change.old_value == person.username and change.new_value == "li"
    snapshot = ReportSnapshot.objects.get()
    assert snapshot.data == {
        "worst": [{"assignee": person.username, "title": "Price check"}],
        "note": "lenakov",
    }
    assert result.history_entries_kept == 1


@pytest.mark.parametrize("who", ["member", "self"])
def test_only_staff_erase_and_not_themselves(story, staff, who):
    team, _ = story
    actor, target = (team.owner, team.assignee) if who == "member" else (staff, staff)
    with pytest.raises(PermissionDenied):
        person_erase(actor=actor, user=target)
    assert type(target).objects.get(pk=target.pk).username == target.username


def test_admin_action_asks_first_then_erases(story, client):
    team, _ = story
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = "/admin/accounts/user/"
    form = {"action": "erase_personal_data", "_selected_action": [team.assignee.pk]}
    confirm = client.post(url, form)
    assert confirm.status_code == 200 and b"Yes, erase" in confirm.content
    assert type(team.assignee).objects.get(pk=team.assignee.pk).username == "lena"
    done = client.post(url, {**form, "confirm": "yes"}, follow=True)
    assert b"is now erased-" in done.content
    exported = client.post(
        url, {"action": "export_personal_data", "_selected_action": [team.lead.pk]}
    )
    assert exported["Content-Type"] == "application/json"
    assert json.loads(exported.content)["li"]["profile"]["email"] == "li@example.com"
