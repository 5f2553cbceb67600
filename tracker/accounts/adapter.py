"""django-allauth runs the sign-in, by password and by single sign-on; Milepost adapts it here.

Who may sign in through a provider (Feishu/Lark, DingTalk, WeCom, OpenID Connect):

- the person whose provider account is already connected to a Milepost user;
- otherwise the active user whose email is one the provider vouches for (verified), once: the
  account is then connected (staff's email on the user is the organisation's record, so the
  person's password is left as it is);
- otherwise nobody, unless that verified email is on a domain of ``SSO_SIGNUP_DOMAINS``: then a
  new user, without a password, is made for them.
"""

from __future__ import annotations

import math
import time

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.core.internal import ratelimit
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tracker.accounts.models import User


class AccountAdapter(DefaultAccountAdapter):
    """Staff create accounts (admin, API): nobody signs up."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def respond_user_inactive(self, request: HttpRequest, user) -> HttpResponse:
        return render(
            request,
            "403.html",
            {"exception": _("This account is deactivated: ask an administrator.")},
            status=403,
        )


def verified_emails(sociallogin: SocialLogin) -> list[str]:
    return [address.email for address in sociallogin.email_addresses if address.verified]


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on: a known account, else a verified email, else a listed domain."""

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if sociallogin.is_existing:
            return
        for email in verified_emails(sociallogin):
            user = User.objects.filter(email__iexact=email, is_active=True).first()
            if user is not None:
                sociallogin.connect(request, user)
                return

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """Only for a verified email on one of ``SSO_SIGNUP_DOMAINS`` that nobody has yet
        (a deactivated person stays out)."""
        return any(
            email_domain(email) in settings.SSO_SIGNUP_DOMAINS
            and not User.objects.filter(email__iexact=email).exists()
            for email in verified_emails(sociallogin)
        )

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict):
        user = super().populate_user(request, sociallogin, data)
        # Only a verified address is the person's email in Milepost.
        verified = verified_emails(sociallogin)
        user.email = verified[0] if verified else ""
        return user


def client_address(request: HttpRequest) -> str:
    """The client's address as every limit sees it: allauth's reading of REMOTE_ADDR, or of
    X-Forwarded-For behind ``TRUSTED_PROXY_COUNT`` proxies ("unknown", shared, when neither
    gives one, e.g. on a Unix socket)."""
    try:
        return ratelimit.truncate_ip(get_adapter().get_client_ip(request))
    except PermissionDenied:
        return "unknown"


def login_failed_key(request: HttpRequest, username: str) -> str:
    """The key allauth counts an account's failed sign-ins under."""
    return get_adapter(request)._get_login_attempts_cache_key(request, username=username)


def rate_limit_wait(request: HttpRequest, *, action: str, key: str | None = None) -> int:
    """Whole seconds until allauth's limits on ``action`` allow this client (and ``key``)
    another attempt: the answer's ``Retry-After``. At least 1."""
    now = time.time()
    wait = 0.0
    for rate in ratelimit.get_rates(app="allauth.account", action=action):
        if rate.per == "key" and key is None:
            continue
        history = cache.get(
            ratelimit.get_cache_key(
                request, app="allauth.account", action=action, rate=rate, key=key
            ),
            [],
        )
        live = [stamp for stamp in history if stamp > now - rate.duration]
        if len(live) >= rate.amount:
            # Newest first: the attempt that frees a place is the amount-th newest.
            wait = max(wait, live[rate.amount - 1] + rate.duration - now)
    return max(1, math.ceil(wait))
