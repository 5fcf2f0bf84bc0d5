"""The rate limits' counters on Redis (``ciie_portal/redis_cache.py``): ``add`` then ``incr``,
and ``decr`` of a key that may be gone, each one atomic command; ``registration/limits.py``
counts through them when the cache is Redis."""

import threading

import pytest

from ciie_portal.redis_cache import RedisCache


@pytest.fixture
def redis_cache():
    cache = RedisCache("redis://127.0.0.1:6379/3", {"KEY_PREFIX": "counter-test"})
    try:
        cache.delete("n")
    except Exception as error:  # noqa: BLE001 - no Redis on this machine
        pytest.skip(f"no Redis: {error}")
    yield cache
    cache.delete("n")


def test_add_and_incr_starts_at_one_and_keeps_its_first_expiry(redis_cache):
    assert redis_cache.add_and_incr("n", timeout=60) == 1
    assert redis_cache.add_and_incr("n", timeout=600) == 2
    assert redis_cache.get("n") == 2  # what Django's own get reads
    ttl = redis_cache._cache.get_client().ttl(redis_cache.make_key("n"))
    assert 0 < ttl <= 60
    with pytest.raises(ValueError):
        redis_cache.add_and_incr("n", timeout=None)


def test_decr_if_present_leaves_a_gone_key_gone(redis_cache):
    assert redis_cache.decr_if_present("n") is None
    assert redis_cache.get("n") is None
    redis_cache.add_and_incr("n", timeout=60)
    redis_cache.add_and_incr("n", timeout=60)
    assert redis_cache.decr_if_present("n") == 1


def test_counts_at_once_are_each_counted(redis_cache):
    counts = []
    lock = threading.Lock()

    def count():
        for _ in range(50):
            value = redis_cache.add_and_incr("n", timeout=60)
            with lock:
                counts.append(value)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 201))
