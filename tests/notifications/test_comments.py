"""Comments on nodes: who may post and delete, who hears of a comment (mentioned people and the
node's assignee, once each, never the author) by which channel, and the email it makes."""

import pytest
from django.core.exceptions import ValidationError

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.core.errors import PermissionDeniedError
from tracker.milestones.models import Comment, Milestone
from tracker.notifications.comments import comment_delete, comment_post, mentioned_usernames
from tracker.notifications.emails import render_email
from tracker.notifications.models import (
    Delivery,
    InboxItem,
    OutboxEvent,
    OutboxMessage,
    PreferenceChannel,
)
from tracker.notifications.preferences import preferences_save

pytestmark = pytest.mark.django_db
EMAIL, IN_APP = PreferenceChannel.EMAIL, PreferenceChannel.IN_APP


@pytest.fixture
def people():
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin")
    lead = UserFactory(username="wchen", first_name="Wei", last_name="Chen")
    assignee = UserFactory(username="lena", first_name="Lena", last_name="Wu")
    reader = UserFactory(username="sam")
    merch = DepartmentFactory(code="merch", name="Merchandising", lead=lead)
    project = ProjectFactory(owner=owner, name="Double 11")
    node = MilestoneFactory(project=project, department=merch, assignee=assignee, title="Pricing")
    return owner, lead, assignee, reader, node


def told(kind: str) -> list[str]:
    inbox = InboxItem.objects.filter(kind=kind).values_list("recipient__username", flat=True)
    return sorted(inbox)


def emailed() -> list[tuple[str, str]]:
    return sorted(
        (m.recipient.username, m.payload["kind"])
        for m in OutboxMessage.objects.filter(event=OutboxEvent.COMMENT)
    )


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("@mei please check", ["mei"]),
        ("Ask @mei, then @wchen.", ["mei", "wchen"]),
        ("@mei @mei twice", ["mei"]),
        ("mail mei@example.com is not a mention", []),
        ("(@li.na) and @a-b_c+d!", ["li.na", "a-b_c+d"]),
        ("no one", []),
        ("@中文名 too", ["中文名"]),
    ],
)
def test_mentions_are_parsed(body, names):
    assert mentioned_usernames(body) == names


def test_a_mention_tells_the_mentioned_and_the_assignee_once_each_never_the_author(people):
    owner, _lead, _assignee, _reader, node = people
    comment = comment_post(actor=owner, milestone_id=node.pk, body="@wchen @mei @nobody look")
    assert comment.author == owner and comment.milestone == node
    assert told("mention") == ["wchen"]  # the author is not told of their own mention
    assert told("comment") == ["lena"]  # the assignee hears of every comment
    assert emailed() == [("lena", "comment"), ("wchen", "mention")]
    item = InboxItem.objects.get(kind="mention")
    assert item.comment == comment and item.actor == owner
    assert item.text == "@wchen @mei @nobody look"


def test_a_mentioned_assignee_gets_the_mention_only(people):
    owner, _lead, _assignee, _reader, node = people
    comment_post(actor=owner, milestone_id=node.pk, body="@lena done?")
    assert told("mention") == ["lena"] and told("comment") == []
    assert emailed() == [("lena", "mention")]


def test_an_unassigned_node_tells_its_department_lead(people):
    _owner, _lead, _assignee, reader, node = people
    Milestone.objects.filter(pk=node.pk).update(assignee=None)
    comment_post(actor=reader, milestone_id=node.pk, body="Who owns this?")
    assert told("comment") == ["wchen"]


def test_the_assignee_commenting_tells_nobody_else(people):
    _owner, _lead, assignee, _reader, node = people
    comment_post(actor=assignee, milestone_id=node.pk, body="Working on it")
    assert not InboxItem.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("choices", "inbox", "email"),
    [
        ({("mention", IN_APP): Delivery.OFF}, [], [("wchen", "mention")]),
        ({("mention", EMAIL): Delivery.OFF}, ["wchen"], []),
        ({("comment", IN_APP): Delivery.OFF}, ["wchen"], [("wchen", "mention")]),  # other kind
    ],
)
def test_each_channel_follows_the_preference_of_its_kind(people, choices, inbox, email):
    owner, lead, _assignee, _reader, node = people
    preferences_save(user=lead, choices=choices)
    Milestone.objects.filter(pk=node.pk).update(assignee=None)  # the lead is also responsible
    comment_post(actor=owner, milestone_id=node.pk, body="@wchen see this")
    assert told("mention") == inbox
    assert emailed() == email
    assert told("comment") == []  # mentioned: not told twice


def test_inactive_people_hear_nothing(people):
    owner, _lead, assignee, _reader, node = people
    assignee.is_active = False
    assignee.save(update_fields=["is_active"])
    comment_post(actor=owner, milestone_id=node.pk, body="@lena ping")
    comment_post(actor=owner, milestone_id=node.pk, body="a plain comment for the assignee")
    assert not InboxItem.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.parametrize("kind", ["mention", "comment"])
def test_a_muted_project_silences_the_email_not_the_inbox(people, kind):
    """The one muted-project rule (as for alerts, tests/alerts/test_preferences.py): muting
    silences the pushes of every kind; the inbox still gets the item."""
    owner, lead, assignee, _reader, node = people
    lead.muted_projects.add(node.project)
    assignee.muted_projects.add(node.project)
    body = "@wchen see this" if kind == "mention" else "a comment for the assignee"
    # The assignee hears of every comment; the lead of the one that mentions them.
    expected = [("lena", "comment"), *([("wchen", "mention")] if kind == "mention" else [])]
    comment_post(actor=owner, milestone_id=node.pk, body=body)
    assert sorted((name, k) for k in ("comment", "mention") for name in told(k)) == expected
    assert emailed() == []
    # Not held for later either: unmuting sends nothing about the past.
    lead.muted_projects.clear()
    assignee.muted_projects.clear()
    assert not OutboxMessage.objects.exists()
    comment_post(actor=owner, milestone_id=node.pk, body=body + " again")
    assert emailed() == expected


def test_the_email_names_the_author_and_carries_one_click_unsubscribe(people, settings):
    settings.SITE_URL = "https://milepost.example.com"
    owner, lead, _assignee, _reader, node = people
    lead.language = "zh-hans"
    lead.save(update_fields=["language"])
    comment_post(actor=owner, milestone_id=node.pk, body="@wchen check **the price**")
    message = OutboxMessage.objects.get(recipient=lead)
    rendered = render_email(message)
    assert "Mei Lin" in rendered.subject and "Pricing" in rendered.subject
    assert "提及" in rendered.subject
    assert f"https://milepost.example.com/nodes/{node.pk}/" in rendered.text
    assert "check **the price**" in rendered.text
    assert rendered.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_deleted_comment_sends_nothing(people):
    from tracker.core.delivery import NothingToSend

    owner, lead, _assignee, _reader, node = people
    comment = comment_post(actor=owner, milestone_id=node.pk, body="@wchen oops")
    comment_delete(actor=owner, comment_id=comment.pk)
    with pytest.raises(NothingToSend):
        render_email(OutboxMessage.objects.get(recipient=lead))


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001, "a\x00b"])
def test_a_bad_body_is_refused_and_nothing_written(people, body):
    owner, *_rest, node = people
    with pytest.raises(ValidationError) as error:
        comment_post(actor=owner, milestone_id=node.pk, body=body)
    assert "body" in error.value.message_dict
    assert not Comment.objects.exists() and not InboxItem.objects.exists()


def test_any_reader_may_comment_but_not_on_an_archived_project(people):
    owner, _lead, _assignee, reader, node = people
    comment_post(actor=reader, milestone_id=node.pk, body="A reader's view")
    node.project.status = "archived"
    node.project.save(update_fields=["status"])
    with pytest.raises(PermissionDeniedError):
        comment_post(actor=owner, milestone_id=node.pk, body="Too late")
    inactive = UserFactory(is_active=False)
    with pytest.raises(Milestone.DoesNotExist):
        comment_post(actor=inactive, milestone_id=node.pk, body="Hello")
    assert Comment.objects.count() == 1


def test_only_the_author_or_staff_delete_a_comment(people):
    owner, _lead, _assignee, reader, node = people
    comment = comment_post(actor=reader, milestone_id=node.pk, body="Mine")
    with pytest.raises(PermissionDeniedError):
        comment_delete(actor=owner, comment_id=comment.pk)  # even the project's owner
    comment_delete(actor=reader, comment_id=comment.pk)
    comment.refresh_from_db()
    assert comment.deleted_at is not None and comment.body == ""
    with pytest.raises(Comment.DoesNotExist):  # gone from the thread: nothing to delete again
        comment_delete(actor=reader, comment_id=comment.pk)
    other = comment_post(actor=reader, milestone_id=node.pk, body="Another")
    comment_delete(actor=UserFactory(is_staff=True), comment_id=other.pk)
    assert not Comment.objects.shown().exists()
