"""`/healthz`: can this process serve, and is it degraded?

For load balancers and uptime probes. Two answers matter to a balancer:

- **cannot serve** (503, `"status": "unavailable"`): the database does not answer. Nothing a
  participant does can be stored; take this node out.
- **degraded** (200, `"status": "degraded"`): the shared cache (Redis) does not answer. Logins,
  forms and pages keep working without it (rate limits and the IdP circuit breaker are not
  counted meanwhile, each process fetches and keeps its own IdP keys), so the node stays in:
  a cache outage is shared by every node, and failing the check would take them all out at
  once.

The answer names the part that failed and nothing else: no exception text, no host names, no
connection strings (those go to the log).
"""

import logging
import uuid

from django.core.cache import caches
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"


def database_status(connection) -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    # Any failure at all means "not healthy": the driver's own errors (psycopg, sqlite3) are not
    # all DatabaseError subclasses once a connection cannot even be opened.
    except Exception:
        logger.warning("Health check: the database is unavailable.", exc_info=True)
        return UNAVAILABLE
    return OK


def cache_status(cache) -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        cache.set(key, OK, timeout=10)
        healthy = cache.get(key) == OK
        cache.delete(key)
    # The Redis client raises its own exceptions (redis.exceptions.ConnectionError, TimeoutError),
    # not Django ones.
    except Exception:
        logger.warning("Health check: the cache is unavailable.", exc_info=True)
        return UNAVAILABLE
    if not healthy:
        logger.warning("Health check: the cache did not return what was just stored.")
        return UNAVAILABLE
    return OK


@never_cache
@require_safe
def healthz(request):
    checks = {
        "database": database_status(connections["default"]),
        "cache": cache_status(caches["default"]),
    }
    if checks["database"] != OK:
        status, code = UNAVAILABLE, 503
    elif checks["cache"] != OK:
        status, code = DEGRADED, 200
    else:
        status, code = OK, 200
    return JsonResponse({"status": status, **checks}, status=code)
