"""The Redis cache keeps one client per connection pool (tracker.core.cache)."""

import pytest
from django.conf import settings
from django.core.cache import caches

from tracker.core.cache import RedisCache


@pytest.fixture
def redis_cache():
    if not settings.CACHES["default"]["BACKEND"].endswith("tracker.core.cache.RedisCache"):
        pytest.skip("the default cache is not Redis here")
    return caches["default"]


def test_one_client_per_pool(redis_cache):
    assert isinstance(redis_cache, RedisCache)
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client(write=True) is client
    assert redis_cache._cache.get_client("a-key") is client  # one server: reads use it too


def test_the_cache_still_works(redis_cache):
    redis_cache.set("tracker-core-cache-test", {"a": [1, 2]}, 30)
    assert redis_cache.get("tracker-core-cache-test") == {"a": [1, 2]}
    assert redis_cache.delete("tracker-core-cache-test")
    assert redis_cache.get("tracker-core-cache-test", "gone") == "gone"
