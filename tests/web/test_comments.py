"""The comment thread in the node side panel: posted with htmx, Markdown cleaned, refusals
shown with the text kept, delete by the author, and a constant number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tracker.milestones.models import Comment
from tracker.notifications.comments import comment_post
from tracker.notifications.models import InboxItem

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def test_posting_from_the_panel_renders_the_thread_and_tells_the_mentioned(
    client_for, owner, node, lead
):
    client = client_for(owner)
    response = client.post(
        f"/nodes/{node.pk}/comments/",
        {"body": "@lead check **this** <script>alert(1)</script>"},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<section class="panel comments-panel"')
    assert "<strong>this</strong>" in html and "<script>" not in html
    assert InboxItem.objects.filter(recipient=lead, kind="mention").count() == 1


def test_an_empty_comment_is_refused_with_the_reason(client_for, owner, node):
    response = client_for(owner).post(f"/nodes/{node.pk}/comments/", {"body": "  "}, headers=HTMX)
    assert response.status_code == 400
    assert "Write something first." in response.content.decode()
    assert not Comment.objects.exists()


def test_an_archived_project_takes_no_comments(client_for, owner, node):
    node.project.status = "archived"
    node.project.save(update_fields=["status"])
    client = client_for(owner)
    page = client.get(f"/nodes/{node.pk}/").content.decode()
    assert "Post comment" not in page
    response = client.post(f"/nodes/{node.pk}/comments/", {"body": "late"}, headers=HTMX)
    assert response.status_code == 403 and not Comment.objects.exists()


def test_without_script_posting_goes_back_to_the_node(client_for, owner, node):
    response = client_for(owner).post(f"/nodes/{node.pk}/comments/", {"body": "Plain"})
    assert response.status_code == 302 and response["Location"] == f"/nodes/{node.pk}/"


def test_the_author_deletes_others_are_not_offered_it(client_for, owner, node):
    reader = UserFactory(username="reader")
    comment = comment_post(actor=reader, milestone_id=node.pk, body="Mine")
    owner_view = client_for(owner).get(f"/nodes/{node.pk}/").content.decode()
    assert f"/comments/{comment.pk}/delete/" not in owner_view
    assert client_for(owner).post(f"/comments/{comment.pk}/delete/").status_code == 403
    response = client_for(reader).post(f"/comments/{comment.pk}/delete/", headers=HTMX)
    assert response.status_code == 200 and "Mine" not in response.content.decode()
    assert client_for(reader).post("/comments/999999/delete/").status_code == 404


def test_the_thread_shows_names_and_costs_the_same_for_2_or_20_comments(client_for, owner, node):
    authors = [UserFactory(first_name=f"Person{i}", last_name="Li") for i in range(20)]
    for author in authors[:2]:
        comment_post(actor=author, milestone_id=node.pk, body="hi")
    client = client_for(owner)
    client.get(f"/nodes/{node.pk}/", headers=HTMX)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/nodes/{node.pk}/", headers=HTMX)
    for author in authors[2:]:
        comment_post(actor=author, milestone_id=node.pk, body="hi")
    with CaptureQueriesContext(connection) as many:
        html = client.get(f"/nodes/{node.pk}/", headers=HTMX).content.decode()
    assert len(many) == len(few)
    assert html.count('class="comment"') == 20
    assert "Person7 Li" in html and authors[7].username not in html
