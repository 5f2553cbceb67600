import math

from rest_framework.throttling import SimpleRateThrottle

from tracker.accounts.adapter import client_address
from tracker.accounts.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Requests made with an API token are throttled per token; browser sessions are not."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class BadTokenThrottle(SimpleRateThrottle):
    """Failed token authentications per client address (``API_BAD_TOKEN_RATE``).

    Only failures count. Once an address has sent too many unknown, revoked or expired keys,
    every token it sends is refused until the window passes, a valid one too, so that a lucky
    guess cannot be told apart from the others.
    """

    scope = "bad_token"

    def get_cache_key(self, request, view=None) -> str:
        return self.cache_format % {
            "scope": self.scope,
            "ident": client_address(getattr(request, "_request", request)),
        }

    def allow_request(self, request, view=None) -> bool:
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        self.history = [
            stamp for stamp in self.cache.get(self.key, []) if stamp > self.now - self.duration
        ]
        return len(self.history) < self.num_requests

    def record_failure(self) -> None:
        """Count one failure of the request last checked by ``allow_request``."""
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

    def wait(self) -> int:
        """Seconds until the failure that frees a place leaves the window."""
        freeing = self.history[self.num_requests - 1]
        return max(1, math.ceil(freeing + self.duration - self.now))
