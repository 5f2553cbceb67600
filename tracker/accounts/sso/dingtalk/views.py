from __future__ import annotations

import logging

import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.dingtalk.views import (
    DingTalkOAuth2Adapter as AllauthDingTalkAdapter,
)
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView

from tracker.accounts.sso.base import endpoint

logger = logging.getLogger(__name__)
DINGTALK_LOGIN_URL = "https://login.dingtalk.com"
DINGTALK_API_URL = "https://api.dingtalk.com"
DINGTALK_OAPI_URL = "https://oapi.dingtalk.com"


class DingTalkOAuth2Adapter(AllauthDingTalkAdapter):
    """allauth's, with its endpoints under the provider's ``LOGIN_URL``, ``API_URL`` and
    ``OAPI_URL`` settings."""

    @property
    def authorize_url(self) -> str:
        return endpoint(self.get_provider(), "LOGIN_URL", DINGTALK_LOGIN_URL) + "/oauth2/auth"

    @property
    def access_token_url(self) -> str:
        api = endpoint(self.get_provider(), "API_URL", DINGTALK_API_URL)
        return api + "/v1.0/oauth2/userAccessToken"

    @property
    def profile_url(self) -> str:
        return endpoint(self.get_provider(), "API_URL", DINGTALK_API_URL) + "/v1.0/contact/users/me"

    def complete_login(self, request, app, token, **kwargs):
        headers = {"x-acs-dingtalk-access-token": token.token}
        with get_adapter().get_requests_session() as session:
            response = session.get(self.profile_url, headers=headers)
            response.raise_for_status()
            data = response.json()
            if not isinstance(data, dict):
                raise OAuth2Error(f"Unexpected DingTalk answer: {data!r}")
            if data.get("unionId"):
                userid = self._userid(session, app, data["unionId"])
                if userid:
                    data["userid"] = userid
        return self.get_provider().sociallogin_from_response(request, data)

    def _userid(self, session, app, union_id: str) -> str:
        """The member's userid in the organisation (the app's own token, then
        topapi/user/getbyunionid); empty when the app may not read the directory."""
        oapi = endpoint(self.get_provider(), "OAPI_URL", DINGTALK_OAPI_URL)
        try:
            answer = session.get(
                oapi + "/gettoken", params={"appkey": app.client_id, "appsecret": app.secret}
            ).json()
            if answer.get("errcode") != 0:
                raise ValueError(answer.get("errmsg"))
            answer = session.post(
                oapi + "/topapi/user/getbyunionid",
                params={"access_token": answer["access_token"]},
                json={"unionid": union_id},
            ).json()
            if answer.get("errcode") != 0:
                raise ValueError(answer.get("errmsg"))
            return str(answer["result"]["userid"])
        except (
            requests.RequestException,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
        ) as error:
            logger.warning("DingTalk: no userid for a sign-in (%s)", error)
            return ""


oauth2_login = OAuth2LoginView.adapter_view(DingTalkOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(DingTalkOAuth2Adapter)
