"""Authentication: sessions and hashed, scoped, expiring, revocable, throttled API tokens."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import DepartmentFactory, UserFactory, make_token
from tracker.accounts.authentication import token_for
from tracker.accounts.models import ApiToken, TokenScope
from tracker.accounts.throttling import TokenRateThrottle
from tracker.core.sqltemplate import SqlTemplate

pytestmark = pytest.mark.django_db


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def test_anonymous_gets_401_with_challenge(api_client):
    response = api_client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token", "Invalid token header"),
        ("Token a b", "Invalid token header"),
        ("Token not-a-real-key", "Invalid token."),
    ],
)
def test_malformed_or_unknown_token_is_401(api_client, header, detail):
    response = api_client.get("/api/v1/projects/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert detail in response.json()["detail"]


def test_token_is_stored_hashed_and_records_last_use(api_client):
    user = UserFactory()
    key = make_token(user, scope=TokenScope.READ)
    token = ApiToken.objects.get(user=user)
    assert key not in (token.key_hash, token.prefix * 2)
    assert token.key_hash == ApiToken.hash_key(key)
    assert token.last_used_at is None
    assert api_client.get("/api/v1/projects/", **auth(key)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_and_expired_tokens_are_refused(api_client):
    user = UserFactory()
    revoked = make_token(user, revoked_at=timezone.now())
    expired = make_token(user, expires_at=timezone.now() - timedelta(seconds=1))
    assert api_client.get("/api/v1/projects/", **auth(revoked)).json()["detail"] == (
        "This token has been revoked."
    )
    assert api_client.get("/api/v1/projects/", **auth(expired)).json()["detail"] == (
        "This token has expired."
    )


def test_inactive_user_token_is_refused(api_client):
    key = make_token(UserFactory(is_active=False))
    assert api_client.get("/api/v1/projects/", **auth(key)).status_code == 401


def test_read_scope_token_never_writes(api_client):
    staff = UserFactory(is_staff=True)
    key = make_token(staff, scope=TokenScope.READ)
    response = api_client.post(
        "/api/v1/departments/", {"name": "Tech", "code": "tech"}, format="json", **auth(key)
    )
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    write_key = make_token(staff, scope=TokenScope.WRITE)
    response = api_client.post(
        "/api/v1/departments/", {"name": "Tech", "code": "tech"}, format="json", **auth(write_key)
    )
    assert response.status_code == 201


def test_token_requests_are_throttled(api_client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(TokenRateThrottle, "rate", "3/minute", raising=False)
    key = make_token(UserFactory())
    codes = [api_client.get("/api/v1/departments/", **auth(key)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    cache.clear()


def test_session_requests_are_not_token_throttled(api_client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(TokenRateThrottle, "rate", "1/minute", raising=False)
    api_client.force_login(UserFactory())
    assert [api_client.get("/api/v1/departments/").status_code for _ in range(3)] == [200] * 3


def test_bad_tokens_are_throttled_per_address(api_client, settings):
    """Twenty failures a minute per address (API_BAD_TOKEN_RATE); then every token from that
    address is 429, a valid one too (a lucky guess must look like the rest); other addresses
    and sessions are untouched."""
    key = make_token(UserFactory())
    attacker = APIClient(REMOTE_ADDR="198.51.100.20")
    codes = [
        attacker.get("/api/v1/departments/", HTTP_AUTHORIZATION=f"Token guess-{n}").status_code
        for n in range(21)
    ]
    assert codes == [401] * 20 + [429]
    refused = attacker.get("/api/v1/departments/", **auth(key))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert (
        APIClient(REMOTE_ADDR="198.51.100.21").get("/api/v1/departments/", **auth(key)).status_code
        == 200
    )
    # Spreadsheet downloads take tokens too, and answer the same.
    download = attacker.get("/integrations/reports/weekly/2026-W10/departments.csv", **auth(key))
    assert download.status_code == 429 and download["Retry-After"]


def test_good_tokens_do_not_count_as_failures(api_client):
    key = make_token(UserFactory())
    client = APIClient(REMOTE_ADDR="198.51.100.30")
    assert {client.get("/api/v1/departments/", **auth(key)).status_code for _ in range(25)} == {200}


def test_issue_token_prints_only_the_key(api_client):
    UserFactory(username="bot")
    out = StringIO()
    call_command("issue_token", "bot", "--scope", "write", "--expires-days", "30", stdout=out)
    key = out.getvalue().strip()
    assert "\n" not in key and len(key) >= 40
    token = ApiToken.objects.get(user__username="bot")
    assert token.scope == TokenScope.WRITE
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert api_client.get("/api/v1/departments/", **auth(key)).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghost"], "No user named 'ghost'."),
        (["bot", "--expires-days", "0"], "--expires-days must be a positive number of days."),
    ],
)
def test_issue_token_errors(args, message):
    UserFactory(username="bot")
    with pytest.raises(CommandError, match=message):
        call_command("issue_token", *args)
    assert not ApiToken.objects.exists()


def test_createsuperuser_noinput_still_works(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-Long-pass-123")
    call_command("createsuperuser", "--noinput", stdout=StringIO())
    from tracker.accounts.models import User

    assert User.objects.get(username="root").check_password("a-Long-pass-123")


def test_staff_creates_user_with_departments_password_write_only(api_client):
    DepartmentFactory(code="tech")
    api_client.force_login(UserFactory(is_staff=True))
    response = api_client.post(
        "/api/v1/users/",
        {
            "username": "mei",
            "email": "mei@example.com",
            "language": "zh-hans",
            "departments": ["tech"],
            "password": "Str0ng-enough-pass",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["departments"] == ["tech"] and "password" not in body
    assert api_client.login(username="mei", password="Str0ng-enough-pass")


def test_user_create_rejects_weak_password_and_unknown_department(api_client):
    api_client.force_login(UserFactory(is_staff=True))
    response = api_client.post(
        "/api/v1/users/",
        {"username": "mei", "password": "123", "departments": ["nope"]},
        format="json",
    )
    assert response.status_code == 400
    assert "departments" in response.json()
    response = api_client.post(
        "/api/v1/users/", {"username": "mei", "password": "123"}, format="json"
    )
    assert response.status_code == 400 and "password" in response.json()
    from tracker.accounts.models import User

    assert not User.objects.filter(username="mei").exists()


def test_non_staff_cannot_create_users(api_client):
    api_client.force_login(UserFactory())
    response = api_client.post("/api/v1/users/", {"username": "x"}, format="json")
    assert response.status_code == 403


class TestTokenLookupTemplate:
    """The token's SELECT is compiled once per process (`token_for`, SqlTemplate): the same
    token and user the ORM gives, looked up afresh on every request."""

    def test_gives_the_orms_token_and_user(self, django_assert_num_queries):
        user = UserFactory(first_name="Mei", language="zh-hans")
        key = make_token(user, scope=TokenScope.READ)
        SqlTemplate.clear()
        for _ in range(2):  # compiled, then reused
            with django_assert_num_queries(1):
                token = token_for(ApiToken.hash_key(key))
            expected = ApiToken.objects.select_related("user").get(user=user)
            assert (token.pk, token.scope, token.key_hash) == (
                expected.pk,
                expected.scope,
                expected.key_hash,
            )
            with django_assert_num_queries(0):  # the user came with the token
                assert token.user == user and token.user.language == "zh-hans"
                assert token.user.first_name == "Mei" and token.user.is_active
        assert None not in SqlTemplate._kept.values()
        assert token_for(ApiToken.hash_key("not-a-key")) is None

    def test_the_password_hash_is_not_read_but_loads_when_asked(self, django_assert_num_queries):
        user = UserFactory()
        token = token_for(ApiToken.hash_key(make_token(user)))
        assert "password" in token.user.get_deferred_fields()
        with django_assert_num_queries(1):
            assert token.user.password == user.password

    def test_a_revocation_counts_on_the_next_request(self, api_client):
        user = UserFactory()
        key = make_token(user)
        assert api_client.get("/api/v1/projects/", **auth(key)).status_code == 200
        ApiToken.objects.filter(user=user).update(revoked_at=timezone.now())
        assert api_client.get("/api/v1/projects/", **auth(key)).status_code == 401
