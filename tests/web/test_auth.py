"""Sign-in through django-allauth: failed attempts are limited per client address and per
account, answered 429 with Retry-After, and one address's success unlocks no other."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Milepost-1"
# LOGIN_FAILED_RATE's default: 10 failures a minute per address, 5 in 5 minutes per account.
PER_ADDRESS, PER_ACCOUNT = 10, 5


def sign_in(address: str, username: str, password: str):
    return Client(REMOTE_ADDR=address).post(
        reverse("login"), {"login": username, "password": password}
    )


def assert_locked_out(response, *, at_most: int) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= at_most
    assert "Too many failed login attempts" in response.content.decode()


def test_an_account_is_locked_after_five_failures_from_anywhere():
    UserFactory(username="mei")
    addresses = [f"198.51.100.{n}" for n in range(PER_ACCOUNT + 1)]
    for address in addresses[:PER_ACCOUNT]:
        assert sign_in(address, "mei", "wrong").status_code == 200
    # The right password, from a fresh address, waits too: the account is locked.
    assert_locked_out(sign_in(addresses[-1], "mei", PASSWORD), at_most=300)
    # Another account is not.
    UserFactory(username="li")
    assert sign_in(addresses[-1], "li", PASSWORD).status_code == 302


def test_an_address_is_locked_after_ten_failures_whatever_the_accounts():
    for n in range(4):
        UserFactory(username=f"user{n}")
    attacker, colleague = "203.0.113.7", "203.0.113.8"
    codes = [sign_in(attacker, f"user{n % 4}", "wrong").status_code for n in range(PER_ADDRESS)]
    assert codes == [200] * PER_ADDRESS  # no account has reached its own limit
    assert_locked_out(sign_in(attacker, "user0", PASSWORD), at_most=60)
    # A colleague signs in from another address; the attacker's lockout stays.
    assert sign_in(colleague, "user1", PASSWORD).status_code == 302
    assert_locked_out(sign_in(attacker, "user1", PASSWORD), at_most=60)


def test_a_success_takes_back_only_its_own_attempt():
    UserFactory(username="mei")
    for _ in range(PER_ACCOUNT - 1):
        assert sign_in("192.0.2.1", "mei", "wrong").status_code == 200
    # Signing in does not wipe the four failures: one more makes five.
    assert sign_in("192.0.2.2", "mei", PASSWORD).status_code == 302
    assert sign_in("192.0.2.3", "mei", "wrong").status_code == 200
    assert_locked_out(sign_in("192.0.2.2", "mei", PASSWORD), at_most=300)


def test_posting_sign_ins_too_fast_is_429_with_retry_after():
    UserFactory(username="mei")
    client = Client(REMOTE_ADDR="192.0.2.50")
    client.post(reverse("login"), {"login": "mei", "password": PASSWORD})
    codes = []
    for _ in range(30):  # allauth's `login` limit: 30 posts a minute per address
        client.logout()
        codes.append(client.post(reverse("login"), {"login": "mei", "password": PASSWORD}))
    refused = codes[-1]
    assert [r.status_code for r in codes[:-1]] == [302] * 29
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many attempts" in refused.content.decode()


def test_the_sign_in_page_keeps_next():
    UserFactory(username="mei")
    client = Client()
    page = client.get(reverse("login") + "?next=/projects/")
    assert 'name="next" value="/projects/"' in page.content.decode()
    done = client.post(
        reverse("login"), {"login": "mei", "password": PASSWORD, "next": "/projects/"}
    )
    assert done.status_code == 302 and done["Location"] == "/projects/"
    # Sign-up is closed: staff create accounts.
    assert "sign up" not in page.content.decode().lower()


def test_the_lockout_page_is_in_chinese_too():
    UserFactory(username="mei")
    for n in range(PER_ACCOUNT):
        sign_in(f"192.0.2.{60 + n}", "mei", "wrong")
    response = Client(REMOTE_ADDR="192.0.2.99", HTTP_ACCEPT_LANGUAGE="zh-CN").post(
        reverse("login"), {"login": "mei", "password": PASSWORD}
    )
    assert response.status_code == 429 and "登录 Milepost" in response.content.decode()
