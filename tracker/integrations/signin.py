"""Signing in through a chat platform links that chat account (allauth's signal: the accounts
layer, below this one, does not know chat identities)."""

from __future__ import annotations

from allauth.account.signals import user_logged_in
from django.dispatch import receiver

from tracker.accounts.sso.base import ChatProfile
from tracker.integrations.services import chat_identity_sign_in


@receiver(user_logged_in, dispatch_uid="integrations.link_chat_account_at_sign_in")
def link_chat_account(sender, request, user, sociallogin=None, **kwargs) -> None:
    profile = getattr(sociallogin, "chat_profile", None)
    if isinstance(profile, ChatProfile):
        chat_identity_sign_in(user=user, profile=profile)
