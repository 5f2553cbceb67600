"""Channels through the API and the browser pages: who manages them, what is validated, that
secrets and URLs are never shown back, and the "send test message" action."""

import pytest
from django.urls import reverse

from tests.factories import DepartmentFactory, ProjectFactory, UserFactory, make_token
from tests.integrations.conftest import PATHS, whsec
from tracker.accounts.models import TokenScope
from tracker.notifications.models import Channel

pytestmark = pytest.mark.django_db


def channel_body(chat_server, kind="slack", **extra):
    body = {
        "name": "Double 11 war room",
        "kind": kind,
        "url": chat_server.url(PATHS.get(kind, "/slack/x")),
        "events": ["overdue", "weekly_report"],
    }
    body.update(extra)
    return body


# API -----------------------------------------------------------------------------------------


def test_an_owner_connects_their_projects_group_and_the_secret_never_comes_back(
    api_client, owner, project, chat_server
):
    api_client.force_authenticate(owner)
    response = api_client.post(
        "/api/v1/channels/",
        channel_body(chat_server, "feishu", project=project.pk, secret="s3cret-value"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["has_secret"] is True
    assert "secret" not in data and "url" not in data
    assert data["url_display"] == f"http://127.0.0.1:{chat_server.httpd.server_port}/…"
    listed = api_client.get("/api/v1/channels/").content.decode()
    detail = api_client.get(f"/api/v1/channels/{data['id']}/").content.decode()
    for text in (listed, detail):
        assert "s3cret-value" not in text and "t0ken" not in text
    channel = Channel.objects.get()
    assert channel.created_by == owner and channel.project == project


@pytest.mark.parametrize(
    ("who", "scope", "status"),
    [
        ("owner", "own project", 201),
        ("owner", "other project", 403),
        ("owner", "department", 403),
        ("owner", "everything", 403),
        ("staff", "department", 201),
        ("staff", "everything", 201),
        ("stranger", "own project", 403),
    ],
)
def test_who_may_create_which_channel(
    who, scope, status, api_client, owner, staff, project, chat_server
):
    actor = {"owner": owner, "staff": staff, "stranger": UserFactory()}[who]
    extra = {
        "own project": {"project": project.pk},
        "other project": {"project": ProjectFactory().pk},
        "department": {"department": DepartmentFactory(code="ops").code},
        "everything": {},
    }[scope]
    api_client.force_authenticate(actor)
    response = api_client.post(
        "/api/v1/channels/", channel_body(chat_server, **extra), format="json"
    )
    assert response.status_code == status, response.json()
    assert Channel.objects.count() == (1 if status == 201 else 0)


def test_people_see_only_the_channels_they_manage(api_client, owner, staff, project, chat_server):
    mine = Channel.objects.create(
        name="Mine", kind="slack", url="https://1.1.1.1/a", events=["overdue"], project=project
    )
    Channel.objects.create(name="Global", kind="slack", url="https://1.1.1.1/b", events=["overdue"])
    api_client.force_authenticate(owner)
    assert [c["id"] for c in api_client.get("/api/v1/channels/").json()["results"]] == [mine.pk]
    api_client.force_authenticate(UserFactory())
    assert api_client.get("/api/v1/channels/").json()["results"] == []
    api_client.force_authenticate(staff)
    assert len(api_client.get("/api/v1/channels/").json()["results"]) == 2


BAD_INPUT = [
    ({"kind": "telegram"}, "kind"),
    ({"events": ["overdue", "birthday"]}, "events"),
    ({"events": []}, "events"),
    ({"name": ""}, "name"),
    ({"kind": "webhook", "secret": "not-a-standard-secret"}, "secret"),
    ({"kind": "webhook"}, "secret"),
    ({"kind": "dingtalk", "secret": "abc"}, "secret"),
    ({"kind": "slack", "secret": "anything"}, "secret"),
    ({"kind": "wecom", "secret": "anything"}, "secret"),
    ({"url": "not a url"}, "url"),
    ({"project": 999999}, "project"),
    ({"department": "nope"}, "department"),
    ({"language": "fr"}, "language"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT)
def test_bad_input_gets_a_field_error_and_changes_nothing(
    change, field, api_client, staff, chat_server
):
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/channels/", channel_body(chat_server, **change), format="json"
    )
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Channel.objects.exists()


def test_project_and_department_together_are_refused(
    api_client, staff, project, department, chat_server
):
    api_client.force_authenticate(staff)
    body = channel_body(chat_server, project=project.pk, department=department.code)
    response = api_client.post("/api/v1/channels/", body, format="json")
    assert response.status_code == 400 and "department" in response.json()


def test_patch_keeps_the_secret_unless_given_and_moves_only_where_allowed(
    api_client, owner, project, chat_server
):
    secret = whsec()
    channel = Channel.objects.create(
        name="Hook",
        kind="webhook",
        url=chat_server.url("/webhook/x"),
        secret=secret,
        events=["overdue"],
        project=project,
    )
    api_client.force_authenticate(owner)
    response = api_client.patch(
        f"/api/v1/channels/{channel.pk}/", {"name": "Renamed", "is_active": False}, format="json"
    )
    assert response.status_code == 200
    channel.refresh_from_db()
    assert (channel.name, channel.is_active, channel.secret) == ("Renamed", False, secret)
    other = ProjectFactory()
    response = api_client.patch(
        f"/api/v1/channels/{channel.pk}/", {"project": other.pk}, format="json"
    )
    assert response.status_code == 403
    channel.refresh_from_db()
    assert channel.project == project


def test_read_only_tokens_cannot_create(api_client, staff, chat_server):
    key = make_token(staff, scope=TokenScope.READ)
    response = api_client.post(
        "/api/v1/channels/",
        channel_body(chat_server),
        format="json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 403


def test_the_test_action_sends_and_shows_the_platforms_answer(
    api_client, owner, project, make_channel, chat_server
):
    channel = make_channel("dingtalk", project=project)
    api_client.force_authenticate(owner)
    response = api_client.post(f"/api/v1/channels/{channel.pk}/test/")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "answer": 'HTTP 200: {"errcode": 0, "errmsg": "ok"}',
        "retry_after": None,
    }
    [request] = chat_server.received()
    assert request.verified is True
    assert "Milepost test message" in request.json["actionCard"]["title"]

    chat_server.answer(
        "/dingtalk/robot/send", 200, '{"errcode": 310000, "errmsg": "keywords not in content"}'
    )
    response = api_client.post(f"/api/v1/channels/{channel.pk}/test/")
    assert response.json()["ok"] is False
    assert (
        "310000" in response.json()["answer"]
        and "keywords not in content" in response.json()["answer"]
    )


def test_delete(api_client, owner, project):
    channel = Channel.objects.create(
        name="x", kind="slack", url="https://1.1.1.1/a", events=["overdue"], project=project
    )
    api_client.force_authenticate(UserFactory())
    assert api_client.delete(f"/api/v1/channels/{channel.pk}/").status_code == 404
    api_client.force_authenticate(owner)
    assert api_client.delete(f"/api/v1/channels/{channel.pk}/").status_code == 204
    assert not Channel.objects.exists()


# Browser pages --------------------------------------------------------------------------------


def test_owner_creates_a_channel_in_the_browser(client, owner, project, chat_server):
    client.force_login(owner)
    page = client.get(reverse("integrations:channel_create"))
    assert page.status_code == 200
    assert 'name="department"' not in page.content.decode()  # staff-only scopes
    response = client.post(
        reverse("integrations:channel_create"),
        {
            "name": "WeCom group",
            "kind": "wecom",
            "url": chat_server.url(PATHS["wecom"]),
            "project": project.pk,
            "events": ["overdue", "weekly_report"],
            "language": "zh-hans",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    channel = Channel.objects.get()
    assert (channel.kind, channel.language, channel.events) == (
        "wecom",
        "zh-hans",
        ["overdue", "weekly_report"],
    )
    listing = client.get(reverse("integrations:channel_list")).content.decode()
    assert "WeCom group" in listing and "k3y" not in listing


def test_the_form_shows_service_errors_and_saves_nothing(client, staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    client.force_login(staff)
    response = client.post(
        reverse("integrations:channel_create"),
        {
            "name": "Bad",
            "kind": "webhook",
            "url": "https://169.254.169.254/",
            "events": ["overdue"],
            "language": "en",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "link-local" in text and "whsec_" in text
    assert not Channel.objects.exists()


def test_editing_keeps_url_and_secret_when_left_empty_and_never_prints_them(
    client, owner, project, make_channel
):
    channel = make_channel("feishu", project=project)
    client.force_login(owner)
    page = client.get(reverse("integrations:channel_edit", args=[channel.pk])).content.decode()
    assert "feishu-secret" not in page and "t0ken" not in page
    response = client.post(
        reverse("integrations:channel_edit", args=[channel.pk]),
        {
            "name": "Renamed",
            "kind": "feishu",
            "url": "",
            "secret": "",
            "project": project.pk,
            "events": ["overdue"],
            "language": "en",
        },
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (
        channel.name == "Renamed" and channel.secret == "feishu-secret" and "t0ken" in channel.url
    )
    assert channel.is_active is False  # the unchecked box


def test_the_test_button_shows_the_answer_as_an_htmx_fragment(
    client, owner, project, make_channel, chat_server
):
    channel = make_channel("teams", project=project)
    client.force_login(owner)
    response = client.post(
        reverse("integrations:channel_test", args=[channel.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and "Sent." in text and "HTTP 202" in text
    assert len(chat_server.received("teams")) == 1


def test_only_managers_reach_the_channel_pages(client, project, make_channel):
    channel = make_channel("slack", project=project)
    client.force_login(UserFactory())
    assert client.get(reverse("integrations:channel_list")).status_code == 403
    assert client.get(reverse("integrations:channel_edit", args=[channel.pk])).status_code == 403
    assert client.post(reverse("integrations:channel_test", args=[channel.pk])).status_code == 403
    assert client.post(reverse("integrations:channel_delete", args=[channel.pk])).status_code == 403
    assert Channel.objects.exists()


def test_delete_page(client, owner, project, make_channel):
    channel = make_channel("slack", project=project)
    client.force_login(owner)
    assert client.get(reverse("integrations:channel_delete", args=[channel.pk])).status_code == 200
    assert client.post(reverse("integrations:channel_delete", args=[channel.pk])).status_code == 302
    assert not Channel.objects.exists()


def test_the_channel_list_reads_in_constant_queries(api_client, client, staff, project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(count):
        for n in range(count):
            Channel.objects.create(
                name=f"c{n}",
                kind="slack",
                url="https://1.1.1.1/a",
                events=["overdue"],
                project=ProjectFactory(),
                department=None,
            )

    add(2)
    api_client.force_authenticate(staff)
    client.force_login(staff)
    with CaptureQueriesContext(connection) as api_few:
        api_client.get("/api/v1/channels/")
    with CaptureQueriesContext(connection) as page_few:
        client.get(reverse("integrations:channel_list"))
    add(10)
    with CaptureQueriesContext(connection) as api_many:
        assert len(api_client.get("/api/v1/channels/").json()["results"]) == 12
    with CaptureQueriesContext(connection) as page_many:
        client.get(reverse("integrations:channel_list"))
    assert len(api_many) == len(api_few)
    assert len(page_many) == len(page_few)


def test_the_admin_validates_like_the_api_and_keeps_the_secret_hidden(client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    data = {
        "name": "Ops",
        "kind": "dingtalk",
        "url": "https://10.0.0.1/robot/send?access_token=x",
        "secret": "nope",
        "events": ["overdue"],
        "language": "en",
        "is_active": "on",
    }
    response = client.post(reverse("admin:notifications_channel_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "private address" in str(errors["url"]) and "SEC" in str(errors["secret"])
    assert not Channel.objects.exists()

    channel = Channel.objects.create(
        name="Ops",
        kind="dingtalk",
        url="https://1.1.1.1/robot/send?access_token=x",
        secret="SECkept",
        events=["overdue"],
    )
    page = client.get(reverse("admin:notifications_channel_change", args=[channel.pk]))
    assert "SECkept" not in page.content.decode()
    assert "access_token" not in page.content.decode()
    data.update(url="", secret="", name="Renamed")
    response = client.post(reverse("admin:notifications_channel_change", args=[channel.pk]), data)
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("Renamed", "SECkept")
    assert channel.url == "https://1.1.1.1/robot/send?access_token=x"
