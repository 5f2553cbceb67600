"""Chat apps are set up in the admin: their credentials are stored encrypted (like channel
secrets), never shown again, kept when left empty, and checked for what the platform needs."""

import pytest
from django.db import connection

from tests.factories import UserFactory
from tracker.integrations.models import ChatApp

pytestmark = pytest.mark.django_db

AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def stored(app: ChatApp) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT app_secret, token, aes_key FROM integrations_chatapp WHERE id = %s", [app.pk]
        )
        return cursor.fetchone()


def test_credentials_are_stored_encrypted_and_never_shown(admin_client, settings):
    settings.SITE_URL = "https://milepost.example.com"
    response = admin_client.post(
        "/admin/integrations/chatapp/add/",
        {
            "platform": "wecom",
            "name": "Milepost",
            "app_id": "wx5823bf96d3bd56c7",
            "token": "QDG6eK",
            "aes_key": AES_KEY,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    app = ChatApp.objects.get()
    assert (app.token, app.aes_key) == ("QDG6eK", AES_KEY)
    raw = stored(app)
    assert raw[1].startswith("enc:v1:") and raw[2].startswith("enc:v1:")
    assert "QDG6eK" not in "".join(raw) and AES_KEY not in "".join(raw)

    page = admin_client.get(f"/admin/integrations/chatapp/{app.pk}/change/").content.decode()
    assert AES_KEY not in page and "QDG6eK" not in page
    assert f"https://milepost.example.com/integrations/wecom/{app.pk}/callback" in page

    # Saving with the credentials left empty keeps them.
    admin_client.post(
        f"/admin/integrations/chatapp/{app.pk}/change/",
        {"platform": "wecom", "name": "Renamed", "app_id": "wx5823bf96d3bd56c7", "is_active": "on"},
    )
    app.refresh_from_db()
    assert (app.name, app.token, app.aes_key) == ("Renamed", "QDG6eK", AES_KEY)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"platform": "wecom", "app_id": "wx1", "token": "t", "aes_key": "short"}, "aes_key"),
        ({"platform": "wecom", "app_id": "wx1", "aes_key": AES_KEY}, "token"),
        ({"platform": "feishu", "app_id": "cli_1", "token": "t"}, "app_secret"),
        ({"platform": "dingtalk"}, "app_secret"),
    ],
)
def test_an_app_missing_what_its_checks_need_is_refused(admin_client, data, field):
    response = admin_client.post("/admin/integrations/chatapp/add/", {"name": "x", **data})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ChatApp.objects.exists()
