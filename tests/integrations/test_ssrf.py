"""The SSRF guard, with WEBHOOK_ALLOW_PRIVATE off: refused at save time (service, API, form)
and at send time (a channel saved earlier, or a name that now resolves inward)."""

import socket

import pytest
from django.urls import reverse

from tests.factories import ProjectFactory
from tracker.core.delivery import PermanentDeliveryError, TransientDeliveryError
from tracker.integrations.delivery import deliver_chat
from tracker.integrations.services import channel_create, channel_send_test
from tracker.integrations.ssrf import UnsafeURLError, check_url
from tracker.notifications.models import Channel

REFUSED = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://10.1.2.3/hook", "private"),
    ("https://172.16.0.9/hook", "private"),
    ("https://192.168.1.1/hook", "private"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://[::ffff:10.0.0.1]/hook", "private"),
    ("https://[::ffff:169.254.169.254]/", "link-local"),
    ("https://[64:ff9b::a00:1]/hook", "private"),
    ("https://[::1]/hook", "loopback"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fd00::1]/hook", "private"),
    ("https://localhost/hook", "loopback"),
    ("https://localhost./hook", "loopback"),
    (f"https://{socket.gethostname()}/hook", "address"),
    ("https://2130706433/hook", "loopback"),  # 127.0.0.1 spelled as one decimal number
    ("https://0x7f.1/hook", "loopback"),  # hexadecimal
    ("https://017700000001/hook", "loopback"),  # octal
    ("https://167772161/hook", "private"),  # 10.0.0.1
    ("https://100.64.0.1/hook", "non-public"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://0.0.0.0/hook", "address"),
    ("http://1.1.1.1/hook", "https"),
    ("ftp://1.1.1.1/hook", "https"),
    ("file:///etc/passwd", "https"),
    ("https://user:pw@1.1.1.1/hook", "password"),
    ("https:///hook", "host"),
    ("https://[::1/hook", "valid"),
]


@pytest.fixture(autouse=True)
def _no_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_check_url_refuses(url, reason):
    with pytest.raises(UnsafeURLError, match=reason):
        check_url(url)


def test_a_public_address_passes_and_is_pinned():
    checked = check_url("https://1.1.1.1:8443/hook?x=1")
    assert checked.addresses == ("1.1.1.1",)
    assert checked.host_header == "1.1.1.1:8443"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/",
        "https://[::ffff:127.0.0.1]/",
        "https://localhost/hook",
    ],
)
def test_saving_such_a_channel_is_refused_and_nothing_is_written(url, staff):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        channel_create(actor=staff, name="Ops", kind="slack", url=url, events=["overdue"])
    assert "url" in error.value.message_dict
    assert "refused" in " ".join(error.value.message_dict["url"])
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_a_private_address_with_a_field_error(api_client, staff):
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/channels/",
        {"name": "Ops", "kind": "slack", "url": "https://10.0.0.1/x", "events": ["overdue"]},
        format="json",
    )
    assert response.status_code == 400
    assert "private address" in response.json()["url"][0]
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_at_send_time_the_guard_runs_again(chat_server, settings, staff):
    # Saved while private addresses were allowed; now they are not (or DNS changed).
    channel = Channel.objects.create(
        name="Old", kind="slack", url=chat_server.url("/slack/x"), events=["overdue"]
    )
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(PermanentDeliveryError, match="loopback"):
        deliver_chat(channel=channel, payload={"event": "test", "title": "t"}, idempotency_key="k")
    result = channel_send_test(channel_id=channel.pk, actor=staff)
    assert not result.ok and "loopback" in result.answer
    assert chat_server.received() == []


@pytest.mark.django_db
def test_a_hostname_is_checked_on_what_it_resolves_to_at_send_time(chat_server, settings):
    port = chat_server.httpd.server_port
    channel = Channel.objects.create(
        name="By name", kind="slack", url=f"http://localhost:{port}/slack/x", events=["overdue"]
    )
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(PermanentDeliveryError, match="resolves to"):
        deliver_chat(channel=channel, payload={"event": "test", "title": "t"}, idempotency_key="k")
    assert chat_server.received() == []


@pytest.mark.django_db
def test_an_owner_cannot_smuggle_a_private_url_through_an_edit(api_client, owner, settings):
    project = ProjectFactory(owner=owner)
    channel = Channel.objects.create(
        name="Ok", kind="slack", url="https://1.1.1.1/hook", events=["overdue"], project=project
    )
    api_client.force_authenticate(owner)
    response = api_client.patch(
        f"/api/v1/channels/{channel.pk}/", {"url": "https://[::ffff:a9fe:a9fe]/"}, format="json"
    )
    assert response.status_code == 400
    channel.refresh_from_db()
    assert channel.url == "https://1.1.1.1/hook"


def test_host_names_are_compared_in_their_idna_form():
    from tracker.integrations.ssrf import normalise_host

    assert normalise_host("Bücher.Example.") == "xn--bcher-kva.example"
    assert normalise_host("OAPI.DingTalk.com") == "oapi.dingtalk.com"


@pytest.mark.django_db
def test_a_name_that_does_not_resolve_now_is_saved_with_a_warning(api_client, staff):
    """Where outbound DNS is unavailable at configuration time, the channel is still saved;
    the send-time check (above) stays the guard."""
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/channels/",
        {
            "name": "Feishu group",
            "kind": "slack",
            "url": "https://hooks.example.invalid/x",
            "events": ["overdue"],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert "could not be resolved" in response.json()["warnings"][0]
    channel = Channel.objects.get(pk=response.json()["id"])
    with pytest.raises(TransientDeliveryError, match="could not be resolved"):
        deliver_chat(channel=channel, payload={"event": "test", "title": "t"}, idempotency_key="k")


@pytest.mark.django_db
def test_the_channel_page_shows_the_warning(client, staff):
    client.force_login(staff)
    response = client.post(
        reverse("integrations:channel_create"),
        {
            "name": "Later",
            "kind": "slack",
            "url": "https://hooks.example.invalid/x",
            "events": ["overdue"],
            "language": "en",
            "is_active": "on",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "checked again before every send" in response.content.decode()
    assert Channel.objects.filter(name="Later").exists()
