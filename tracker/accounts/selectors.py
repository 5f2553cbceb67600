"""Reads of the accounts app."""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount
from django.db.models import QuerySet

from tracker.accounts.models import User


def sign_in_account_list(*, user: User) -> QuerySet[SocialAccount]:
    """The single sign-on accounts (Feishu, DingTalk, WeCom, OpenID Connect) `user` signs in
    with."""
    return SocialAccount.objects.filter(user=user).order_by("provider", "pk")
