"""DingTalk, allauth's provider with the endpoints from settings; the organisation's userid
(what DingTalk robots @mention) is looked up when the app may read the directory."""

from __future__ import annotations

from allauth.socialaccount.providers.dingtalk.provider import (
    DingTalkProvider as AllauthDingTalk,
)

from tracker.accounts.sso.base import ChatPlatformProviderMixin, ChatProfile
from tracker.accounts.sso.dingtalk.views import DingTalkOAuth2Adapter


class DingTalkProvider(ChatPlatformProviderMixin, AllauthDingTalk):
    package = "tracker.accounts.sso.dingtalk"
    oauth2_adapter_class = DingTalkOAuth2Adapter
    kept_fields = ("openId", "unionId", "userid", "nick")

    def chat_profile(self, data: dict) -> ChatProfile:
        return ChatProfile(
            platform="dingtalk",
            external_id=data.get("userid") or data["unionId"],
            display_name=data.get("nick") or "",
            open_id=data.get("openId") or "",
            union_id=data.get("unionId") or "",
            # DingTalk robots @mention by userid or by mobile (`atMobiles`).
            mobile=data.get("mobile") or "",
        )


provider_classes = [DingTalkProvider]
