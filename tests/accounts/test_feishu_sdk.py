"""The loopback Feishu stand-in checked against Feishu's official SDK (`lark-oapi`): the SDK's
own client takes the app token, exchanges a code and reads the user through it, and parses
every answer into its models. The stand-in the sign-in tests use thus answers as the SDK
expects Feishu to."""

from urllib.parse import parse_qs, urlsplit

import httpx
import lark_oapi as lark
from lark_oapi.api.authen.v1 import (
    CreateAccessTokenRequest,
    CreateAccessTokenRequestBody,
    GetUserInfoRequest,
)

from tests.accounts.ssoserver import CLIENTS
from tests.accounts.test_sso import FEISHU_PERSON


def test_the_feishu_stand_in_answers_as_the_official_sdk_expects(sso):
    sso.people["feishu"] = FEISHU_PERSON
    app_id, app_secret = CLIENTS["feishu"]
    answer = httpx.get(
        sso.url("/feishu/open-apis/authen/v1/index"),
        params={"app_id": app_id, "redirect_uri": "http://testserver/cb/", "state": "s1"},
    )
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["s1"]
    client = (
        lark.Client.builder()
        .app_id(app_id)
        .app_secret(app_secret)
        .domain(sso.url())
        .log_level(lark.LogLevel.ERROR)
        .build()
    )
    body = (
        CreateAccessTokenRequestBody.builder()
        .grant_type("authorization_code")
        .code(query["code"][0])
        .build()
    )
    token = client.authen.v1.access_token.create(
        CreateAccessTokenRequest.builder().request_body(body).build()
    )
    assert token.success(), (token.code, token.msg)
    assert token.data.open_id == FEISHU_PERSON["open_id"] and token.data.access_token
    # A user token is passed per request, as a web app does with the token of each sign-in.
    as_user = (
        lark.Client.builder()
        .enable_set_token(True)
        .domain(sso.url())
        .log_level(lark.LogLevel.ERROR)
        .build()
    )
    option = lark.RequestOption.builder().user_access_token(token.data.access_token).build()
    user = as_user.authen.v1.user_info.get(GetUserInfoRequest.builder().build(), option)
    assert user.success(), (user.code, user.msg)
    assert (user.data.open_id, user.data.union_id, user.data.enterprise_email) == (
        FEISHU_PERSON["open_id"],
        FEISHU_PERSON["union_id"],
        FEISHU_PERSON["enterprise_email"],
    )
    # A code works once, and a wrong secret gets Feishu's error, parsed by the SDK too.
    again = client.authen.v1.access_token.create(
        CreateAccessTokenRequest.builder().request_body(body).build()
    )
    assert not again.success() and again.code == 20003
