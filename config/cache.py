"""Django's own Redis cache backend, keeping its client instead of building one per call, and
counting a rate-limit hit in one round trip.

`django.core.cache.backends.redis.RedisCacheClient.get_client()` builds a new `redis.Redis`
object around the (shared) connection pool on every cache operation. A participant's callback
makes about eight cache calls (rate limit, circuit breaker, JWKS, session) and building those
clients was about 3 ms of its CPU on the benchmark machine. A `redis.Redis` is thread-safe (every
command borrows a connection from the pool), so one per pool is enough.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # Several threads may build one at once; any of them is fine to keep.
            client = self._clients[index] = self._client(connection_pool=self._pool_at(index))
        return client

    def _pool_at(self, index: int):
        if index not in self._pools:
            self._pools[index] = self._pool_class.from_url(
                self._servers[index], **self._pool_options
            )
        return self._pools[index]


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def incr_with_expiry(self, key, *, timeout: int, version=None) -> int:
        """Add one to the counter `key` (created at 1) and make it expire in `timeout` seconds.

        One round trip (INCR and EXPIRE in a MULTI) where Django's `add` then `incr` take three
        (SET NX, EXISTS, INCRBY). Setting the expiry again on every hit is right for the rate
        limiter: its keys name their window, and `timeout` is always "one second after this
        window ends". The counter stays a plain integer, readable by Django's `get` and `incr`.
        """
        key = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(key, write=True)
        with client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, timeout)
            count, _expiry_set = pipe.execute()
        return count
