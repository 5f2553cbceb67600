from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from tracker.accounts.models import ApiToken
from tracker.accounts.throttling import BadTokenThrottle

LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        token = (
            ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        )
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
