from rest_framework.throttling import SimpleRateThrottle

from tracker.accounts.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Requests made with an API token are throttled per token; browser sessions are not."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
