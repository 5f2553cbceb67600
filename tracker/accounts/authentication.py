from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from tracker.accounts.models import ApiToken
from tracker.accounts.throttling import BadTokenThrottle
from tracker.core.sqltemplate import SqlTemplate

LAST_USED_RESOLUTION = timedelta(minutes=1)
# Two key hashes no token has (a stored one is 64 hex digits), for the lookup's SqlTemplate.
KEY_HASH_SENTINELS = (("sentinel:first",), ("sentinel:second",))


def token_lookup(key_hash: str) -> QuerySet[ApiToken]:
    """The token with this key's hash and its user: every column but the user's password
    hash, which no API request reads (one that did would load it, as a deferred field)."""
    return (
        ApiToken.objects.select_related("user")
        .defer("user__password")
        .filter(key_hash=key_hash)
        .order_by()[:1]
    )


def token_for(key_hash: str) -> ApiToken | None:
    """`token_lookup`, its SQL compiled once per process (SqlTemplate): a request runs the
    one SELECT, without building and compiling the join of two models every time."""
    template = SqlTemplate.get(("api-token",), token_lookup, sentinels=KEY_HASH_SENTINELS)
    found = token_lookup(key_hash) if template is None else template.objects(key_hash)
    return next(iter(found), None)


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`; keys are looked up by their SHA-256. Failures are counted
    per client address, and an address over ``BadTokenThrottle``'s rate gets 429."""

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        throttle = BadTokenThrottle()
        if not throttle.allow_request(request):
            raise exceptions.Throttled(wait=throttle.wait())
        try:
            return self._authenticate(parts)
        except exceptions.AuthenticationFailed:
            throttle.record_failure()
            raise

    def _authenticate(self, parts: list[bytes]):
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give 'Token <key>'.")
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        token = token_for(ApiToken.hash_key(key))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        if not token.is_usable:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            # Conditional update: at most one write a minute per token, however busy it is.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
