"""Sign in/out, password change and reset (over real SMTP), settings, API tokens, language."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import ProjectFactory, UserFactory
from tracker.accounts.models import ApiToken
from tracker.notifications.models import NotificationPreference
from tracker.projects.models import ProjectStatus

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Milepost-1"


def test_sign_in_and_out(client):
    UserFactory(username="mei")
    page = client.get(reverse("login"))
    assert page.status_code == 200 and "Sign in to Milepost" in page.content.decode()

    wrong = client.post(reverse("login"), {"login": "mei", "password": "nope"})
    assert wrong.status_code == 200
    assert "The username and/or password you specified are not correct" in wrong.content.decode()

    right = client.post(reverse("login"), {"login": "mei", "password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == "/"
    assert client.get("/").status_code == 200

    out = client.post(reverse("logout"))
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_signed_in_user_skips_the_login_page(client_for):
    response = client_for(UserFactory()).get(reverse("login"))
    assert response.status_code == 302 and response["Location"] == "/"


def test_password_change(client_for):
    user = UserFactory()
    client = client_for(user)
    url = reverse("password_change")
    assert client.get(url).status_code == 200

    refused = client.post(
        url, {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"}
    )
    assert refused.status_code == 200
    assert "This password is too short." in refused.content.decode()

    done = client.post(
        url,
        {
            "old_password": PASSWORD,
            "new_password1": "Tea-Garden-1188",
            "new_password2": "Tea-Garden-1188",
        },
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Tea-Garden-1188")


def test_password_reset_email_over_smtp(client, smtp_inbox):
    user = UserFactory(username="mei", email="mei@example.com")

    response = client.post(reverse("password_reset"), {"email": "mei@example.com"})

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(smtp_inbox.messages) == 1
    message = smtp_inbox.messages[0]
    assert message["To"] == "mei@example.com"
    assert message["Subject"] == "Reset your Milepost password"
    body = message.get_content()
    assert "Your user name is mei." in body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", body)[1]

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    saved = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Tea-Garden-1188", "new_password2": "Tea-Garden-1188"},
    )
    assert saved.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Tea-Garden-1188")


def test_password_reset_for_an_unknown_address_sends_nothing(client, smtp_inbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302  # no hint whether the address exists
    assert smtp_inbox.messages == []


def test_settings_save_preferences(client_for):
    user = UserFactory()
    muted = ProjectFactory(name="Noisy")
    ProjectFactory(name="Archived", status=ProjectStatus.ARCHIVED)
    client = client_for(user)
    page = client.get(reverse("web:settings")).content.decode()
    assert "Noisy" in page and "Archived" not in page
    assert 'name="notify_overdue_email"' in page and 'name="notify_weekly_report_chat"' in page

    response = client.post(
        reverse("web:settings"),
        {
            "language": "zh-hans",
            "muted_projects": [muted.pk],
            "notify_overdue_email": "digest",
            "notify_due_soon_email": "off",
            "notify_escalation_in_app": "off",
            "notify_weekly_report_email": "immediate",
        },
    )

    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    user.refresh_from_db()
    assert user.language == "zh-hans"
    assert list(user.muted_projects.all()) == [muted]
    assert set(
        NotificationPreference.objects.filter(user=user).values_list("kind", "channel", "delivery")
    ) == {
        ("overdue", "email", "digest"),
        ("due_soon", "email", "off"),
        ("escalation", "in_app", "off"),
    }
    page = client.get(reverse("web:settings")).content.decode()
    assert re.search(r'name="notify_overdue_email"[^>]*>.*?value="digest" selected', page, re.S)

    # Back to the default: the row goes.
    client.post(reverse("web:settings"), {"language": "en", "notify_overdue_email": "immediate"})
    assert not NotificationPreference.objects.filter(user=user, kind="overdue").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"language": "fr", "notify_overdue_email": "digest"}, "Select a valid choice."),
        ({"language": "en", "notify_overdue_email": "hourly"}, "Select a valid choice."),
        # Reports have no digest, nor has anything in the app or in chat.
        ({"language": "en", "notify_weekly_report_email": "digest"}, "Select a valid choice."),
        ({"language": "en", "notify_overdue_chat": "digest"}, "Select a valid choice."),
        ({"language": "en", "notify_overdue_email": "off", "muted_projects": ["x"]}, "not a valid"),
    ],
)
def test_settings_with_bad_input_change_nothing(client_for, data, message):
    user = UserFactory()
    response = client_for(user).post(reverse("web:settings"), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    user.refresh_from_db()
    assert user.language == "en"
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_tokens_create_show_once_and_revoke(client_for):
    user = UserFactory()
    client = client_for(user)

    created = client.post(
        reverse("web:token_create"),
        {"name": "BI dashboard", "scope": "read", "expires_in_days": 30},
    )

    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    key = created.context["new_key"]
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == ApiToken.hash_key(key)
    assert (token.name, token.scope) == ("BI dashboard", "read")
    assert token.expires_at is not None
    assert key in created.content.decode()
    assert key not in client.get(reverse("web:settings")).content.decode()  # shown once

    api = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}")
    assert api.status_code == 200

    revoked = client.post(reverse("web:token_revoke", args=[token.pk]), follow=True)
    assert "is revoked" in revoked.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in revoked.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "scope": "read"}, "This field is required."),
        ({"name": "x", "scope": "admin"}, "Select a valid choice."),
        ({"name": "x", "scope": "read", "expires_in_days": 0}, "greater than or equal to 1"),
    ],
)
def test_token_with_bad_input_creates_nothing(client_for, data, message):
    user = UserFactory()
    response = client_for(user).post(reverse("web:token_create"), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_cannot_revoke_someone_elses_token(client_for):
    owner, intruder = UserFactory(), UserFactory()
    token = ApiToken.objects.create(user=owner, prefix="abcd1234", key_hash="0" * 64)
    response = client_for(intruder).post(reverse("web:token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_language_switch_remembers_the_choice(client_for):
    user = UserFactory()
    response = client_for(user).post(
        reverse("web:language"), {"language": "zh-hans", "next": "/projects/"}
    )
    assert response.status_code == 302 and response["Location"] == "/projects/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    user.refresh_from_db()
    assert user.language == "zh-hans"


def test_language_switch_for_visitors_and_open_redirects(client):
    response = client.post(
        reverse("web:language"), {"language": "zh-hans", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


def test_language_switch_refuses_unknown_languages(client):
    response = client.post(reverse("web:language"), {"language": "klingon"})
    assert response.status_code == 400
    assert "Unknown language." in response.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
