"""What the chat platforms' providers share: the chat account a sign-in names, the few fields
of the platform's answer that are kept, and which of its email addresses are trusted."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class ChatProfile:
    """The chat account a sign-in came through, as the platform named it.

    `external_id` is the id the platform's @mentions and commands use (Feishu: open_id;
    DingTalk: the organisation's userid when the app may read it, else the unionId; WeCom:
    the member's userid). `mobile` is given only by platforms that @mention by mobile number
    (DingTalk, WeCom)."""

    platform: str
    external_id: str
    display_name: str = ""
    open_id: str = ""
    union_id: str = ""
    mobile: str = ""


class ChatPlatformProviderMixin:
    """For an allauth OAuth2 provider of a chat platform.

    The whole answer of the platform's user-info call is not stored (allauth would keep it in
    `SocialAccount.extra_data`): only `kept_fields`, which name the account. The sign-in's
    `ChatProfile` rides on the SocialLogin for the rest of the request."""

    kept_fields: tuple[str, ...] = ()
    # Email fields the platform fills from the organisation's directory, never the person.
    directory_email_fields: tuple[str, ...] = ()
    email_fields: tuple[str, ...] = ("email",)

    def chat_profile(self, data: dict) -> ChatProfile:
        raise NotImplementedError

    def extract_extra_data(self, data: dict) -> dict:
        return {key: data[key] for key in self.kept_fields if data.get(key)}

    def email_trusted(self) -> bool:
        """Whether the platform's plain email field is the organisation's record
        (`SSO_TRUSTED_EMAIL_PROVIDERS`)."""
        return self.id in settings.SSO_TRUSTED_EMAIL_PROVIDERS

    def extract_email_addresses(self, data: dict) -> list[EmailAddress]:
        addresses: list[EmailAddress] = []
        seen: set[str] = set()
        for field in (*self.directory_email_fields, *self.email_fields):
            email = (data.get(field) or "").strip()
            if not email or email.lower() in seen:
                continue
            seen.add(email.lower())
            verified = field in self.directory_email_fields or self.email_trusted()
            addresses.append(EmailAddress(email=email, verified=verified, primary=not addresses))
        return addresses

    def extract_common_fields(self, data: dict) -> dict:
        fields = super().extract_common_fields(data)
        addresses = self.extract_email_addresses(data)
        if addresses:
            fields["email"] = addresses[0].email
        return fields

    def sociallogin_from_response(self, request: HttpRequest, response: dict):
        try:
            sociallogin = super().sociallogin_from_response(request, response)
            sociallogin.chat_profile = self.chat_profile(response)
        except (KeyError, TypeError, ValueError) as error:
            # An answer without the account's id: a failed sign-in, not a server error.
            raise OAuth2Error(f"The platform's answer names no account ({error!r}).") from error
        return sociallogin


def endpoint(provider, key: str, default: str) -> str:
    """A base URL from the provider's settings (SOCIALACCOUNT_PROVIDERS), without a final /."""
    return str(provider.get_settings().get(key) or default).rstrip("/")
