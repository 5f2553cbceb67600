"""Feishu (and Lark: the same API under open.larksuite.com), allauth's provider with the
endpoints from settings and only the account's ids, name and emails kept."""

from __future__ import annotations

from allauth.socialaccount.providers.feishu.provider import FeishuProvider as AllauthFeishu

from tracker.accounts.sso.base import ChatPlatformProviderMixin, ChatProfile
from tracker.accounts.sso.feishu.views import FeishuOAuth2Adapter


class FeishuProvider(ChatPlatformProviderMixin, AllauthFeishu):
    package = "tracker.accounts.sso.feishu"
    name = "Feishu / Lark"
    oauth2_adapter_class = FeishuOAuth2Adapter
    kept_fields = ("open_id", "union_id", "user_id", "tenant_key", "name", "en_name")
    # `enterprise_email` is the mailbox the tenant gives its member; `email` is the contact
    # address in the member's profile.
    directory_email_fields = ("enterprise_email",)

    def chat_profile(self, data: dict) -> ChatProfile:
        # Feishu @mentions by open_id (`<at id=ou_…>`): no mobile number is needed or kept.
        return ChatProfile(
            platform="feishu",
            external_id=data["open_id"],
            display_name=data.get("name") or data.get("en_name") or "",
            open_id=data["open_id"],
            union_id=data.get("union_id") or "",
        )


provider_classes = [FeishuProvider]
