"""Django's Redis cache backend with one ``redis.Redis`` client per server, and the two counter
operations of the rate limits (``registration/limits.py``) in one round trip each.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call,
and each one fills a table of about 170 reply callbacks: on a page that reads the session, the
current edition and the policy in force from the cache, that was more CPU than the reads. A
``redis.Redis`` is safe to share between threads (its connections come from the pool), so one
per server is kept. ``settings.CACHES`` uses this backend wherever a Redis URL is configured.
"""

from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.utils.functional import cached_property

# Run by Redis as one command each (a script is atomic): Django's ``add`` then ``incr`` take
# three round trips (SET NX, EXISTS, INCRBY) and ``decr`` two.
_ADD_AND_INCR = """
redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[2])
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""
_DECR_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('DECRBY', KEYS[1], ARGV[1])
end
return false
"""


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

    def _script(self, source: str, key: str):
        client = self._cache.get_client(key, write=True)
        scripts = self.__dict__.setdefault("_scripts", {})
        script = scripts.get((id(client), source))
        if script is None:
            script = scripts[(id(client), source)] = client.register_script(source)
        return script

    def add_and_incr(self, key, delta=1, timeout=DEFAULT_TIMEOUT, version=None) -> int:
        """``add(key, 0, timeout)`` then ``incr(key, delta)`` as one atomic command: the count
        after this one (the key keeps the expiry it was added with)."""
        key = self.make_and_validate_key(key, version=version)
        seconds = self.get_backend_timeout(timeout)
        if seconds is None or seconds <= 0:
            raise ValueError("add_and_incr needs a timeout: a counter never expiring would stay")
        return int(self._script(_ADD_AND_INCR, key)(keys=[key], args=[delta, int(seconds)]))

    def decr_if_present(self, key, delta=1, version=None) -> int | None:
        """``decr(key, delta)`` as one atomic command; None (nothing done) when the key is gone."""
        key = self.make_and_validate_key(key, version=version)
        value = self._script(_DECR_IF_PRESENT, key)(keys=[key], args=[delta])
        return None if value is None else int(value)
