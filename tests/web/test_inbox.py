"""The bell and the inbox page: one count per page, a constant number of queries, opening an
item's node marks it read (only mine), "mark all read"."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MilestoneFactory, UserFactory
from tracker.notifications.inbox import inbox_notify, inbox_unread_count
from tracker.notifications.models import InboxItem

pytestmark = pytest.mark.django_db


def bell_count(html: str) -> int:
    match = re.search(r'class="bell-count" data-unread="(\d+)"', html)
    return int(match.group(1)) if match else 0


@pytest.fixture
def reader(owner):
    return owner


def add_items(node, user, count: int, actor=None) -> list[InboxItem]:
    return [
        item
        for _ in range(count)
        for item in inbox_notify(
            recipients=[user], kind="mention", milestone=node, actor=actor, text="Look @olga"
        )
    ]


def test_the_bell_shows_the_unread_count_on_every_page(client_for, reader, node):
    client = client_for(reader)
    assert bell_count(client.get("/").content.decode()) == 0
    add_items(node, reader, 3)
    for url in ("/", "/projects/", f"/projects/{node.project_id}/"):
        assert bell_count(client.get(url).content.decode()) == 3


def test_the_bell_counts_once_per_request(client_for, reader, node):
    add_items(node, reader, 2)
    client = client_for(reader)
    with CaptureQueriesContext(connection) as queries:
        client.get("/inbox/")
    counts = [q["sql"] for q in queries if "notifications_inboxitem" in q["sql"]]
    assert len(counts) == 2  # the count (bell and page share it) and the list


def test_the_inbox_page_costs_the_same_for_3_or_30_items(client_for, reader, node, project):
    client = client_for(reader)
    others = [MilestoneFactory(project=project, department=node.department) for _ in range(3)]
    for other in others:
        add_items(other, reader, 1, actor=UserFactory())
    client.get("/inbox/")
    with CaptureQueriesContext(connection) as few:
        page = client.get("/inbox/")
    for other in others * 9:
        add_items(other, reader, 1, actor=UserFactory())
    with CaptureQueriesContext(connection) as many:
        page = client.get("/inbox/")
    assert page.status_code == 200
    assert len(many) == len(few)
    assert page.content.decode().count('data-inbox-item="') == 30


def test_the_inbox_lists_names_and_links_to_the_node(client_for, reader, node):
    actor = UserFactory(username="wchen", first_name="Wei", last_name="Chen")
    (item,) = add_items(node, reader, 1, actor=actor)
    html = client_for(reader).get("/inbox/").content.decode()
    assert f'href="/nodes/{node.pk}/?inbox={item.pk}"' in html
    assert "Wei Chen" in html and "wchen" not in html
    assert "Price approval" in html and "Look @olga" in html and "is-unread" in html


def test_opening_the_node_from_the_inbox_marks_the_item_read(client_for, reader, node):
    first, second = add_items(node, reader, 2)
    client = client_for(reader)
    panel = client.get(f"/nodes/{node.pk}/?inbox={first.pk}", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    html = panel.content.decode()
    assert re.search(r'id="inbox-bell"[^>]*hx-swap-oob="true"', html) and bell_count(html) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    page = client.get(f"/nodes/{node.pk}/?inbox={second.pk}")  # as a page, without script
    assert bell_count(page.content.decode()) == 0


def test_someone_elses_item_id_changes_nothing(client_for, reader, node, lead):
    (theirs,) = add_items(node, lead, 1)
    response = client_for(reader).get(f"/nodes/{node.pk}/?inbox={theirs.pk}")
    assert response.status_code == 200
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(client_for, reader, node, lead):
    add_items(node, reader, 2)
    add_items(node, lead, 1)
    client = client_for(reader)
    assert client.get("/inbox/read/").status_code == 405
    response = client.post("/inbox/read/")
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert inbox_unread_count(user=reader) == 0
    assert inbox_unread_count(user=lead) == 1
    assert "Mark all read" not in client.get("/inbox/").content.decode()


def test_the_inbox_needs_a_sign_in(client):
    assert client.get("/inbox/").status_code == 302
