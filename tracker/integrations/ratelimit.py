"""Per-endpoint send limits (DingTalk and WeCom allow 20 messages a minute per robot).

A sliding log of send times per endpoint: in Redis (a sorted set per window, checked and added
atomically by one Lua script) when REDIS_URL is set, else in the database under a row lock.
`acquire` either takes a slot or says how long to wait; callers queue, never drop.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence

import redis
from django.conf import settings
from django.db import transaction

from tracker.integrations.models import SendWindow
from tracker.integrations.platforms import RateWindow

logger = logging.getLogger(__name__)

ACQUIRE_SCRIPT = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i])) + 1)
end
return false
"""

_clients: dict[str, redis.Redis] = {}


def endpoint_key(kind: str, url: str) -> str:
    """Platforms count per robot, i.e. per webhook URL, so channels sharing one share a limit."""
    return f"{kind}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def acquire(key: str, windows: Sequence[RateWindow], *, now: float | None = None) -> float | None:
    """Take one send slot under every window; None when granted, else seconds until one frees."""
    if not windows:
        return None
    now = time.time() if now is None else now
    if settings.REDIS_URL:
        try:
            return _acquire_redis(key, windows, now)
        except redis.RedisError:
            logger.warning("Rate limiter: Redis unavailable, using the database", exc_info=True)
    return _acquire_db(key, windows, now)


def _redis() -> redis.Redis:
    client = _clients.get(settings.REDIS_URL)
    if client is None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
        _clients[settings.REDIS_URL] = client
    return client


def _acquire_redis(key: str, windows: Sequence[RateWindow], now: float) -> float | None:
    keys = [f"milepost:sendlimit:{key}:{w.seconds}" for w in windows]
    args: list[str | float | int] = [now, uuid.uuid4().hex]
    for window in windows:
        args += [window.limit, window.seconds]
    wait = _redis().eval(ACQUIRE_SCRIPT, len(keys), *keys, *args)
    return float(wait) if wait else None


def _acquire_db(key: str, windows: Sequence[RateWindow], now: float) -> float | None:
    longest = max(w.seconds for w in windows)
    with transaction.atomic():
        SendWindow.objects.bulk_create([SendWindow(key=key)], ignore_conflicts=True)
        row = SendWindow.objects.select_for_update().get(key=key)
        recent = sorted(t for t in row.sent_at if t > now - longest)
        wait = 0.0
        for window in windows:
            inside = [t for t in recent if t > now - window.seconds]
            if len(inside) >= window.limit:
                wait = max(wait, inside[len(inside) - window.limit] + window.seconds - now)
        if wait > 0:
            return wait
        row.sent_at = [*recent, now]
        row.save(update_fields=["sent_at"])
    return None
