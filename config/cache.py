"""Django's own Redis cache backend, keeping its client instead of building one per call, and
counting a request's rate-limit hits in one round trip.

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

    def incr_many_with_expiry(self, timeouts: dict[str, int], *, version=None) -> dict[str, int]:
        """Add one to each counter of `timeouts` ({key: seconds}; created at 1) and make it
        expire in its number of seconds; returns {key: count}.

        One round trip for all of them (INCR and EXPIRE in one MULTI) where Django's `add` then
        `incr` take three per counter (SET NX, EXISTS, INCRBY). Setting the expiry again on every
        hit is right for the rate limiter: its keys name their window, and the expiry is always
        "one second after this window ends". The counters stay plain integers, readable by
        Django's `get` and `incr`. (Django's client sends every write to the first server.)
        """
        keys = {key: self.make_and_validate_key(key, version=version) for key in timeouts}
        client = self._cache.get_client(write=True)
        with client.pipeline(transaction=True) as pipe:
            for key, timeout in timeouts.items():
                pipe.incr(keys[key])
                pipe.expire(keys[key], timeout)
            replies = pipe.execute()
        return dict(zip(timeouts, replies[::2], strict=True))
