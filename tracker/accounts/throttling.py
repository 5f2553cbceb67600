import math
import secrets

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from tracker.accounts.adapter import client_address
from tracker.accounts.models import ApiToken

# DRF's sliding window (SimpleRateThrottle: the stamps of the requests let through in the last
# `duration` seconds; a request is let through while fewer than `num_requests` are), kept as a
# Redis sorted set of stamps and checked and recorded in one round trip. Returns whether the
# request passes, the stamps in the window (this one included when it passes) and the oldest.
SLIDING_WINDOW = """
local key, now, duration, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('EXPIRE', key, math.ceil(duration))
    count = count + 1
    allowed = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or ARGV[1]
return {allowed, count, oldest}
"""


class TokenRateThrottle(SimpleRateThrottle):
    """Requests made with an API token are throttled per token; browser sessions are not.

    With Redis as the cache, DRF's sliding window is a sorted set checked and recorded by one
    script, in one round trip (DRF's own reads the whole list of stamps and writes it back, two
    round trips carrying up to `API_TOKEN_RATE` stamps each); without it (`make run`), DRF's."""

    scope = "token"
    _scripts: dict[int, object] = {}  # a registered script per Redis client pool

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    def allow_request(self, request, view) -> bool:
        redis = caches["default"]  # `self.cache` is Django's proxy of it
        if self.rate is None or not isinstance(redis, RedisCache):
            self.redis = None
            return super().allow_request(request, view)
        self.redis = redis
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        client = redis._cache.get_client(write=True)
        script = self._scripts.get(id(client.connection_pool))
        if script is None:
            script = self._scripts[id(client.connection_pool)] = client.register_script(
                SLIDING_WINDOW
            )
        allowed, self.count, oldest = script(
            # Not DRF's key: that one holds a pickled list (a deploy meets both for a minute).
            keys=[redis.make_and_validate_key(f"{self.key}:window")],
            args=[repr(self.now), self.duration, self.num_requests, secrets.token_hex(8)],
            client=client,
        )
        self.oldest = float(oldest)
        return bool(allowed)

    def wait(self) -> float | None:
        """DRF's answer: the window's remaining time spread over the requests still free."""
        if self.redis is None:
            return super().wait()
        remaining = self.duration - (self.now - self.oldest)
        available = self.num_requests - self.count + 1
        return remaining / available if available > 0 else None


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
