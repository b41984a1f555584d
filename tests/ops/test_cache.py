import environ
import pytest

from tests.ops.conftest import TEST_REDIS_URL
from tests.ops.settings_module import reload_settings


def _settings_caches(cache_url):
    return reload_settings(CACHE_URL=cache_url).CACHES


def test_redis_cache_url_uses_djangos_own_redis_backend():
    caches = _settings_caches("redis://127.0.0.1:6379/1")
    assert caches["default"]["BACKEND"] == "config.cache.RedisCache"
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    from config.cache import RedisCache

    assert issubclass(RedisCache, DjangoRedisCache)
    assert caches["default"]["LOCATION"] == "redis://127.0.0.1:6379/1"
    # A Redis that hangs fails a request within seconds instead of holding its thread.
    assert caches["default"]["OPTIONS"]["socket_timeout"] == 2
    assert caches["default"]["OPTIONS"]["socket_connect_timeout"] == 2


def test_redis_cache_timeouts_can_be_set_in_the_url():
    caches = _settings_caches("redis://127.0.0.1:6379/1?socket_timeout=0.5")
    assert caches["default"]["OPTIONS"]["socket_timeout"] == 0.5


def test_local_memory_cache_url_stays_local_memory():
    caches = _settings_caches("locmemcache://campaign-sso")
    assert caches["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_django_environ_would_pick_django_redis_if_installed():
    # Why settings.py overrides the backend: django-environ prefers django-redis when present.
    config = environ.Env.cache_url_config("redis://127.0.0.1:6379/1")
    assert config["BACKEND"].endswith("RedisCache")


def test_values_stored_by_one_process_are_read_by_another(redis_cache):
    from django.core.cache.backends.redis import RedisCache

    other_process = RedisCache(TEST_REDIS_URL, {})
    redis_cache.set("jwks:https://idp.example.com", {"keys": [{"kid": "k1"}]}, timeout=60)
    assert other_process.get("jwks:https://idp.example.com") == {"keys": [{"kid": "k1"}]}


@pytest.mark.parametrize("delta", [1, 5])
def test_incr_on_redis_is_shared(redis_cache, delta):
    redis_cache.add("counter", 0, timeout=60)
    redis_cache.incr("counter", delta)
    assert redis_cache.get("counter") == delta


def test_the_redis_client_is_built_once_and_shared_by_threads(redis_cache):
    import threading

    from config.cache import RedisCache

    cache = RedisCache(TEST_REDIS_URL, {})
    clients = []

    def work(n):
        cache.set(f"thread-{n}", n, 30)
        assert cache.get(f"thread-{n}") == n
        clients.append(cache._cache.get_client(write=True))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(clients) == 8
    assert len({id(client) for client in clients}) == 1
