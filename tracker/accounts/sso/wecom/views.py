from __future__ import annotations

import contextlib

import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Client, OAuth2Error
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2Adapter,
    OAuth2CallbackView,
    OAuth2LoginView,
)
from django.utils.http import urlencode

from tracker.accounts.sso.base import endpoint

WECOM_LOGIN_URL = "https://login.work.weixin.qq.com"
WECOM_API_URL = "https://qyapi.weixin.qq.com"


def _answer(response) -> dict:
    """A WeCom API answer: HTTP 200 with ``errcode`` 0, else the sign-in fails."""
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict) or data.get("errcode", 0) != 0:
        raise OAuth2Error(f"WeCom refused: {data!r}")
    return data


class WeComOAuth2Client(OAuth2Client):
    agent_id = ""

    def get_redirect_url(self, authorization_url, scope, extra_params) -> str:
        params = {
            "login_type": "CorpApp",
            "appid": self.consumer_key,
            "agentid": self.agent_id,
            "redirect_uri": self.callback_url,
        }
        if self.state:
            params["state"] = self.state
        params.update(extra_params)
        return f"{authorization_url}?{urlencode(params)}"

    def get_access_token(self, code, pkce_code_verifier=None, extra_data=None) -> dict:
        """WeCom gives no user token: the app's own token (``gettoken``) reads who the
        one-time ``code`` belongs to, in `complete_login`."""
        with get_adapter().get_requests_session() as session:
            data = _answer(
                session.get(
                    self.access_token_url,
                    params={"corpid": self.consumer_key, "corpsecret": self.consumer_secret},
                )
            )
        if not data.get("access_token"):
            raise OAuth2Error("WeCom gave no access token.")
        return {
            "access_token": data["access_token"],
            "expires_in": data.get("expires_in"),
            "code": code,
        }


class WeComOAuth2Adapter(OAuth2Adapter):
    provider_id = "wecom"
    client_class = WeComOAuth2Client

    @property
    def authorize_url(self) -> str:
        return endpoint(self.get_provider(), "LOGIN_URL", WECOM_LOGIN_URL) + "/wwlogin/sso/login"

    def _api(self, path: str) -> str:
        return endpoint(self.get_provider(), "API_URL", WECOM_API_URL) + path

    @property
    def access_token_url(self) -> str:
        return self._api("/cgi-bin/gettoken")

    def get_client(self, request, app):
        client = super().get_client(request, app)
        client.agent_id = str(app.settings.get("agent_id", ""))
        return client

    def complete_login(self, request, app, token, **kwargs):
        code = kwargs["response"]["code"]
        with get_adapter().get_requests_session() as session:
            who = _answer(
                session.get(
                    self._api("/cgi-bin/auth/getuserinfo"),
                    params={"access_token": token.token, "code": code},
                )
            )
            userid = who.get("userid") or who.get("UserId")
            if not userid:
                # Someone outside the organisation (WeCom gives an openid only).
                raise OAuth2Error("The WeCom account is not a member of the organisation.")
            data = {"userid": userid}
            member = session.get(
                self._api("/cgi-bin/user/get"),
                params={"access_token": token.token, "userid": userid},
            )
            # The app may not read the directory: the userid is enough to sign in.
            with contextlib.suppress(OAuth2Error, ValueError, requests.RequestException):
                data |= _answer(member)
        data["userid"] = userid
        return self.get_provider().sociallogin_from_response(request, data)


oauth2_login = OAuth2LoginView.adapter_view(WeComOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(WeComOAuth2Adapter)
