"""Django's Redis cache backend with one ``redis.Redis`` client per server.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call,
and each one fills a table of about 170 reply callbacks: on a page that reads the session, the
current edition and the policy in force from the cache, that was more CPU than the reads. A
``redis.Redis`` is safe to share between threads (its connections come from the pool), so one
per server is kept. ``settings.CACHES`` uses this backend wherever a Redis URL is configured.
"""

from django.core.cache.backends import redis as django_redis
from django.utils.functional import cached_property


class _Client(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    @cached_property
    def _cache(self):
        return _Client(self._servers, **self._options)
