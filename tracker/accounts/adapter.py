"""django-allauth runs the sign-in (and, later, single sign-on); Milepost adapts it here."""

from __future__ import annotations

import math
import time

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """Staff create accounts (admin, API): nobody signs up."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


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
