"""Single sign-on against real providers on loopback (tests/accounts/ssoserver.py), through
allauth's real views: who gets in, who is refused, what is linked and what is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.accounts.conftest import sign_in
from tests.factories import UserFactory
from tracker.accounts.models import User
from tracker.integrations.models import ChatIdentity
from tracker.integrations.selectors import chat_user
from tracker.ops.personal import chat_identities_purge, person_data_export, person_erase

pytestmark = pytest.mark.django_db


def signed_in(client: Client) -> User | None:
    user = get_user(client)
    return user if user.is_authenticated else None


def stored_mobile(identity: ChatIdentity) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT mobile FROM integrations_chatidentity WHERE id = %s", [identity.pk])
        return cursor.fetchone()[0]


OIDC_PERSON = {
    "sub": "248289761001",
    "email": "lena@example.com",
    "email_verified": True,
    "name": "Lena Wu",
    "preferred_username": "lena",
}


# OpenID Connect -----------------------------------------------------------------------------


def test_oidc_signs_in_the_user_with_the_verified_email_and_keeps_no_token(sso):
    lena = UserFactory(username="lena", email="Lena@Example.com")
    sso.people["oidc"] = OIDC_PERSON
    client = Client()
    response = sign_in(client, sso, "oidc")
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in(client) == lena
    account = SocialAccount.objects.get(user=lena)
    assert (account.provider, account.uid) == ("idp", "248289761001")
    assert not SocialToken.objects.exists()  # SOCIALACCOUNT_STORE_TOKENS = False
    lena.refresh_from_db()
    assert lena.has_usable_password()  # a staff-given email: the password stays
    assert not ChatIdentity.objects.exists()  # not a chat platform
    # The flow used the discovery document, the token endpoint with PKCE, and userinfo.
    paths = [path for _method, path in sso.requests]
    assert "/oidc/.well-known/openid-configuration" in paths
    assert "/oidc/token" in paths and "/oidc/userinfo" in paths


def test_oidc_second_sign_in_goes_by_the_account_not_the_email(sso):
    lena = UserFactory(username="lena", email="lena@example.com")
    sso.people["oidc"] = OIDC_PERSON
    sign_in(Client(), sso, "oidc")
    sso.people["oidc"] = {**OIDC_PERSON, "email": "lena.wu@elsewhere.org"}
    client = Client()
    sign_in(client, sso, "oidc")
    assert signed_in(client) == lena


@pytest.mark.parametrize(
    "person",
    [
        pytest.param({**OIDC_PERSON, "email": "nobody@example.com"}, id="unknown-email"),
        pytest.param({**OIDC_PERSON, "email_verified": False}, id="unverified-email"),
        pytest.param({k: v for k, v in OIDC_PERSON.items() if k != "email"}, id="no-email"),
    ],
)
def test_oidc_unknown_person_is_refused_by_default(sso, person):
    UserFactory(username="lena", email="lena@example.com")
    sso.people["oidc"] = person
    client = Client()
    response = sign_in(client, sso, "oidc")
    assert response.status_code == 200
    assert b"No Milepost account" in response.content
    assert signed_in(client) is None
    assert User.objects.count() == 1 and not SocialAccount.objects.exists()


def test_oidc_deactivated_user_is_not_matched(sso):
    UserFactory(username="lena", email="lena@example.com", is_active=False)
    sso.people["oidc"] = OIDC_PERSON
    client = Client()
    sign_in(client, sso, "oidc")
    assert signed_in(client) is None and not SocialAccount.objects.exists()


def test_sign_up_is_allowed_only_for_listed_domains(sso, settings):
    settings.SSO_SIGNUP_DOMAINS = ["example.cn"]
    sso.people["oidc"] = {**OIDC_PERSON, "sub": "s-1", "email": "wei@Example.cn"}
    client = Client()
    sign_in(client, sso, "oidc")
    wei = signed_in(client)
    assert wei is not None and wei.email == "wei@example.cn"  # allauth lower-cases it
    assert not wei.has_usable_password()
    assert not wei.is_staff

    sso.people["oidc"] = {**OIDC_PERSON, "sub": "s-2", "email": "eve@example.com"}
    client = Client()
    sign_in(client, sso, "oidc")
    assert signed_in(client) is None
    sso.people["oidc"] = {
        **OIDC_PERSON,
        "sub": "s-3",
        "email": "eve@example.cn",
        "email_verified": False,
    }
    sign_in(client, sso, "oidc")
    assert signed_in(client) is None
    assert User.objects.count() == 1


def test_oidc_id_token_for_another_client_fails_the_sign_in(sso):
    UserFactory(username="lena", email="lena@example.com")
    sso.people["oidc"] = OIDC_PERSON
    sso.id_token_audience = "someone-else"
    client = Client()
    response = sign_in(client, sso, "oidc")
    assert response.status_code == 401 and b"Sign-in failed" in response.content
    assert signed_in(client) is None


def test_a_provider_that_is_not_configured_answers_404(sso, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    for path in (
        "/accounts/feishu/login/",
        "/accounts/oidc/idp/login/",
        "/accounts/wecom/login/callback/?code=x",
    ):
        assert Client().post(path).status_code == 404, path


def test_an_unreachable_oidc_provider_answers_502(sso, settings):
    settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]["settings"] = {
        "server_url": "http://127.0.0.1:9/oidc"
    }
    assert Client().post("/accounts/oidc/idp/login/").status_code == 502


# Chat platforms: sign-in links the chat account --------------------------------------------

FEISHU_PERSON = {
    "name": "王芳",
    "en_name": "Fang Wang",
    "open_id": "ou_7d8a6e6df7621556ce0d21922b676706ccs",
    "union_id": "on_8ed6aa67826108097d9ee143816345",
    "user_id": "5d9bdxxx",
    "email": "fang@personal.example",
    "enterprise_email": "fang@example.com",
    "mobile": "+8613800138000",
    "tenant_key": "736588c9260f175e",
    "avatar_url": "https://example.invalid/a.png",
}


def test_feishu_sign_in_links_the_chat_account_without_the_mobile(sso):
    fang = UserFactory(username="fang", email="fang@example.com")
    sso.people["feishu"] = FEISHU_PERSON
    client = Client()
    response = sign_in(client, sso, "feishu")
    assert response.status_code == 302 and signed_in(client) == fang
    identity = ChatIdentity.objects.get(user=fang)
    assert (identity.platform, identity.external_id) == ("feishu", FEISHU_PERSON["open_id"])
    assert identity.union_id == FEISHU_PERSON["union_id"]
    assert identity.display_name == "王芳"
    assert identity.mobile == ""  # Feishu @mentions by open_id: no mobile is kept
    # Commands and @mentions find the person with no manual linking.
    assert chat_user(platform="feishu", external_id=FEISHU_PERSON["open_id"]) == fang
    # allauth keeps only the account's ids and names, not the whole profile.
    extra = SocialAccount.objects.get(user=fang).extra_data
    assert set(extra) <= {"open_id", "union_id", "user_id", "tenant_key", "name", "en_name"}
    assert "mobile" not in extra and "email" not in extra


def test_feishu_plain_email_counts_only_when_trusted(sso, settings):
    fang = UserFactory(username="fang", email="fang@personal.example")
    sso.people["feishu"] = {**FEISHU_PERSON, "enterprise_email": ""}
    client = Client()
    sign_in(client, sso, "feishu")
    assert signed_in(client) is None and not ChatIdentity.objects.exists()
    settings.SSO_TRUSTED_EMAIL_PROVIDERS = ["feishu"]
    sign_in(client, sso, "feishu")
    assert signed_in(client) == fang


DINGTALK_PERSON = {
    "nick": "李雷",
    "unionId": "UxiSiPUpx7zt3n1Ta4YDYwiEiE",
    "openId": "oKXB2EcKmgEn5yo0iiqbnkiSQiEiE",
    "mobile": "13900139000",
    "stateCode": "86",
    "email": "lei@example.com",
    "avatarUrl": "https://example.invalid/b.png",
    "userid": "manager4220",  # the directory's; users/me does not give it
}


def test_dingtalk_sign_in_links_the_userid_and_the_encrypted_mobile(sso, settings):
    settings.SSO_TRUSTED_EMAIL_PROVIDERS = ["dingtalk"]
    lei = UserFactory(username="lei", email="lei@example.com")
    sso.people["dingtalk"] = DINGTALK_PERSON
    client = Client()
    sign_in(client, sso, "dingtalk")
    assert signed_in(client) == lei
    identity = ChatIdentity.objects.get(user=lei)
    assert (identity.platform, identity.external_id) == ("dingtalk", "manager4220")
    assert (identity.union_id, identity.open_id) == (
        DINGTALK_PERSON["unionId"],
        DINGTALK_PERSON["openId"],
    )
    assert identity.mobile == "13900139000"
    raw = stored_mobile(identity)
    assert raw.startswith("enc:v1:") and "13900139000" not in raw
    assert chat_user(platform="dingtalk", external_id="manager4220") == lei


def test_dingtalk_without_directory_permission_links_the_union_id_then_the_userid(sso, settings):
    settings.SSO_TRUSTED_EMAIL_PROVIDERS = ["dingtalk"]
    lei = UserFactory(username="lei", email="lei@example.com")
    sso.people["dingtalk"] = DINGTALK_PERSON
    sso.refuse_directory = True
    sign_in(Client(), sso, "dingtalk")
    assert ChatIdentity.objects.get(user=lei).external_id == DINGTALK_PERSON["unionId"]
    sso.refuse_directory = False  # the admin grants the permission; the next sign-in
    sign_in(Client(), sso, "dingtalk")
    assert list(ChatIdentity.objects.values_list("external_id", flat=True)) == ["manager4220"]


def test_dingtalk_personal_email_is_not_trusted_by_default(sso):
    UserFactory(username="lei", email="lei@example.com")
    sso.people["dingtalk"] = DINGTALK_PERSON
    client = Client()
    sign_in(client, sso, "dingtalk")
    assert signed_in(client) is None and not ChatIdentity.objects.exists()


WECOM_PERSON = {
    "userid": "zhangsan",
    "name": "张三",
    "mobile": "13700137000",
    "email": "zhangsan@directory.example",
    "biz_mail": "zhangsan@example.com",
    "department": [1, 2],
    "position": "产品经理",
    "status": 1,
}


def test_wecom_sign_in_links_the_member(sso):
    zhang = UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = WECOM_PERSON
    client = Client()
    response = sign_in(client, sso, "wecom")
    assert response.status_code == 302 and signed_in(client) == zhang
    identity = ChatIdentity.objects.get(user=zhang)
    assert (identity.platform, identity.external_id, identity.display_name) == (
        "wecom",
        "zhangsan",
        "张三",
    )
    assert identity.mobile == "13700137000" and stored_mobile(identity).startswith("enc:v1:")
    assert SocialAccount.objects.get(user=zhang).extra_data == {
        "userid": "zhangsan",
        "name": "张三",
    }


def test_wecom_someone_outside_the_organisation_is_refused(sso):
    UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = {"openid": "oAAAAAA"}
    client = Client()
    response = sign_in(client, sso, "wecom")
    assert response.status_code == 401 and b"Sign-in failed" in response.content
    assert signed_in(client) is None


def test_wecom_without_directory_access_signs_in_a_connected_member(sso):
    zhang = UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = WECOM_PERSON
    sign_in(Client(), sso, "wecom")  # first time: matched by biz_mail
    sso.refuse_directory = True
    client = Client()
    sign_in(client, sso, "wecom")  # the userid is enough now
    assert signed_in(client) == zhang


def test_signing_in_moves_a_chat_account_linked_to_someone_else(sso):
    other = UserFactory(username="other")
    ChatIdentity.objects.create(user=other, platform="wecom", external_id="zhangsan")
    zhang = UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = WECOM_PERSON
    sign_in(Client(), sso, "wecom")
    assert list(ChatIdentity.objects.values_list("user", flat=True)) == [zhang.pk]


def test_a_deactivated_connected_user_is_refused(sso):
    zhang = UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = WECOM_PERSON
    sign_in(Client(), sso, "wecom")
    User.objects.filter(pk=zhang.pk).update(is_active=False)
    client = Client()
    response = sign_in(client, sso, "wecom")
    assert response.status_code == 403 and signed_in(client) is None


@pytest.mark.parametrize("platform", ["feishu", "dingtalk"])
def test_a_garbled_platform_answer_is_a_failed_sign_in_not_an_error(sso, platform):
    sso.people.update(feishu=FEISHU_PERSON, dingtalk=DINGTALK_PERSON)
    sso.garbled = True
    client = Client()
    response = sign_in(client, sso, platform)
    assert response.status_code == 401 and b"Sign-in failed" in response.content
    assert signed_in(client) is None


# The sign-in page ----------------------------------------------------------------------------


def test_sign_in_page_offers_only_configured_providers(sso, settings):
    page = Client().get("/accounts/login/").content.decode()
    for name in ("Feishu / Lark", "DingTalk", "WeCom", "Company SSO"):
        assert name in page
    assert "only to @mention you" in page  # the personal-data notice
    settings.SOCIALACCOUNT_PROVIDERS = {"wecom": settings.SOCIALACCOUNT_PROVIDERS["wecom"]}
    page = Client().get("/accounts/login/").content.decode()
    assert 'data-provider="wecom"' in page and 'data-provider="feishu"' not in page
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert "Or sign in with" not in Client().get("/accounts/login/").content.decode()


def test_sign_in_page_in_chinese(sso):
    page = Client(headers={"accept-language": "zh-hans"}).get("/accounts/login/")
    text = page.content.decode()
    assert "其他登录方式" in text and "手机号" in text
    client = Client()
    client.force_login(UserFactory(language="zh-hans"))
    text = client.get("/integrations/chat/accounts/").content.decode()
    assert "Milepost 保存了你聊天账号的哪些信息" in text and "30 天后删除" in text


# The person's own page -----------------------------------------------------------------------


def test_personal_data_page_shows_and_removes_linked_accounts(sso):
    zhang = UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = WECOM_PERSON
    client = Client()
    sign_in(client, sso, "wecom")
    page = client.get("/integrations/chat/accounts/").content.decode()
    assert "张三" in page and "137****7000" in page and "13700137000" not in page
    assert "What Milepost keeps" in page
    identity = ChatIdentity.objects.get(user=zhang)
    other = ChatIdentity.objects.create(
        user=UserFactory(username="other"), platform="wecom", external_id="lisi"
    )
    # Someone else's row cannot be removed from here.
    client.post(f"/integrations/chat/accounts/{other.pk}/unlink/")
    assert ChatIdentity.objects.filter(pk=other.pk).exists()
    response = client.post(f"/integrations/chat/accounts/{identity.pk}/unlink/")
    assert response.status_code == 302
    assert not ChatIdentity.objects.filter(user=zhang).exists()
    # No more @mentions or commands as them from that account.
    assert chat_user(platform="wecom", external_id="zhangsan") is None
    account = SocialAccount.objects.get(user=zhang)
    client.post(f"/integrations/chat/accounts/sign-in/{account.pk}/remove/")
    assert not SocialAccount.objects.filter(user=zhang).exists()


# Retention and erasure -------------------------------------------------------------------------


def test_deactivated_peoples_chat_accounts_go_after_the_retention_period(settings):
    settings.CHAT_IDENTITY_RETENTION_DAYS = 30
    gone = UserFactory(username="gone", is_active=False)
    back = UserFactory(username="back", is_active=False)
    here = UserFactory(username="here")
    for user in (gone, back, here):
        ChatIdentity.objects.create(
            user=user, platform="dingtalk", external_id=user.username, mobile="13900139000"
        )
    start = timezone.now()
    result = chat_identities_purge(now=start)
    assert (result.marked, result.kept, result.deleted) == (2, 0, 0)
    User.objects.filter(pk=back.pk).update(is_active=True)
    result = chat_identities_purge(now=start + timedelta(days=29, hours=23))
    assert (result.marked, result.kept, result.deleted) == (0, 1, 0)
    result = chat_identities_purge(now=start + timedelta(days=30))
    assert (result.marked, result.kept, result.deleted) == (0, 0, 1)
    assert sorted(ChatIdentity.objects.values_list("external_id", flat=True)) == ["back", "here"]
    # Run again: nothing more to do.
    result = chat_identities_purge(now=start + timedelta(days=30))
    assert (result.marked, result.kept, result.deleted) == (0, 0, 0)


def test_export_and_erasure_cover_sign_in_accounts_and_chat_ids(sso):
    staff = UserFactory(username="boss", is_staff=True)
    zhang = UserFactory(username="zhang", email="zhangsan@example.com")
    sso.people["wecom"] = WECOM_PERSON
    sign_in(Client(), sso, "wecom")
    data = person_data_export(user=zhang)
    assert data["chat_identities"][0]["mobile"] == "13700137000"
    assert data["sign_in_accounts"][0]["uid"] == "zhangsan"
    person_erase(actor=staff, user=zhang)
    assert not ChatIdentity.objects.exists() and not SocialAccount.objects.exists()


def test_the_purge_is_scheduled_daily():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="ops.purge_chat_identities")
    assert task.enabled and task.crontab.hour == "3"
