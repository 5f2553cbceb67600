"""WeCom (企业微信) web login, on allauth's OAuth2 provider API (allauth has no WeCom provider).

The flow (WeCom's "企业微信Web登录", a self-built app, login_type CorpApp): the browser goes to
``/wwlogin/sso/login`` with the CorpID, the app's AgentID and the callback; WeCom sends it back
with a one-time ``code``. Milepost takes the app's access token (``cgi-bin/gettoken`` with the
CorpID and the app's secret), exchanges the code for the member's userid
(``cgi-bin/auth/getuserinfo``) and reads the member (``cgi-bin/user/get``)."""

from __future__ import annotations

from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider

from tracker.accounts.sso.base import ChatPlatformProviderMixin, ChatProfile
from tracker.accounts.sso.wecom.views import WeComOAuth2Adapter


class WeComAccount(ProviderAccount):
    def to_str(self) -> str:
        return self.account.extra_data.get("name") or super().to_str()


class WeComProvider(ChatPlatformProviderMixin, OAuth2Provider):
    id = "wecom"
    name = "WeCom"
    package = "tracker.accounts.sso.wecom"
    account_class = WeComAccount
    oauth2_adapter_class = WeComOAuth2Adapter
    kept_fields = ("userid", "name")
    # `biz_mail` is the member's mailbox from the organisation; `email` is the directory's.
    directory_email_fields = ("biz_mail",)

    def extract_uid(self, data: dict) -> str:
        return str(data["userid"])

    def extract_common_fields(self, data: dict) -> dict:
        fields = {"username": str(data["userid"]), "name": data.get("name") or ""}
        return fields | super().extract_common_fields(data)

    def chat_profile(self, data: dict) -> ChatProfile:
        # WeCom robots @mention by userid (`mentioned_list`) or mobile (`mentioned_mobile_list`).
        return ChatProfile(
            platform="wecom",
            external_id=str(data["userid"]),
            display_name=data.get("name") or "",
            open_id=data.get("open_userid") or "",
            mobile=data.get("mobile") or "",
        )


provider_classes = [WeComProvider]
