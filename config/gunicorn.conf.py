"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Sized for a login that mostly waits: the callback spends most of its time on the IdP's token
and userinfo endpoints, not on our CPU. Threads wait cheaply, so each process runs several
(`gthread`); processes give the CPU-bound part real parallelism past the GIL. Every value can be
overridden from the environment (documented in README, "Running in production").
"""

import multiprocessing
import os

import environ

env = environ.Env()

# ---------------------------------------------------------------------------- socket
bind = [f"{env.str('HOST', default='0.0.0.0')}:{env.int('PORT', default=8000)}"]  # noqa: S104
# No keep-alive: every response closes its connection, so each request goes to whichever
# process accepts it first. A gthread process keeps the connections it accepted: with keep-alive,
# a client or proxy holding a few connections (nginx's upstream keepalive, a balancer's pool) can
# end up with all of them on one process, which then runs one core flat while the others idle.
# In the peer bench all 8 of the driver's connections went to one of two processes in 2 runs of
# 3: 74-76 logins/s against 107-126 with keep-alive off (BENCHMARKS.md, "Against the peers",
# fifth round). A new connection from a proxy on the same network costs far less than a login.
# If you turn it on, keep idle connections open longer than the balancer does (AWS ALB: 60 s),
# or it will reuse a connection we just closed and answer 502.
keepalive = env.int("GUNICORN_KEEPALIVE", default=0)
# The proxies whose X-Forwarded-Proto gunicorn believes; the app's own view of the client
# address is TRUSTED_PROXY_COUNT.
forwarded_allow_ips = env.str("FORWARDED_ALLOW_IPS", default="127.0.0.1,::1")

# ---------------------------------------------------------------------------- workers
# gunicorn's gthread worker, except that the thread that served a connection lingers over its
# close, not the loop that accepts every connection of the process (config/gunicorn_worker.py):
# one client slow to close its side would otherwise hold up the whole process for 2 s.
worker_class = "config.gunicorn_worker.ClosingThreadWorker"
# One process per core (at least two, so that a restart or a stuck process never leaves none):
# the threads do the waiting. At 50 concurrent logins on 2 cores, 2 processes used about a fifth
# less CPU per login than 2 × cores + 1 = 5, with a shorter p95 (BENCHMARKS.md, "Sizing").
workers = env.int("WEB_CONCURRENCY", default=max(2, multiprocessing.cpu_count()))
threads = env.int("GUNICORN_THREADS", default=8)
# With gthread the worker's heartbeat comes from its main loop, not from the request threads,
# so this does not cut a slow IdP call short (the OAuth client's own timeouts do); it restarts
# a worker whose main loop is stuck.
timeout = env.int("GUNICORN_TIMEOUT", default=30)
# On restart or deploy, requests in flight (a participant waiting for their IdP) may finish.
graceful_timeout = env.int("GUNICORN_GRACEFUL_TIMEOUT", default=30)
# Recycle each process now and then against slow leaks; the jitter keeps them from all
# restarting at once. Rarely: a worker's RSS grows about 1 % from 1,000 to 10,000 logins
# (BENCHMARKS.md, "Memory"), and each restart costs a Django start and cold caches. At 2,000
# requests a busy 2-core machine (about 75 requests/s per worker) restarted a worker every
# 27 s, which cost its own configuration a third of its logins/s in the peer bench.
max_requests = env.int("GUNICORN_MAX_REQUESTS", default=50000)
max_requests_jitter = env.int("GUNICORN_MAX_REQUESTS_JITTER", default=5000)
# The heartbeat file on tmpfs: a container's overlay filesystem can stall a heartbeat write.
# gunicorn creates its own private file there; nothing is read back from a shared name.
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# gunicorn's runtime control socket (`gunicornc`, gunicorn 25.1+) is off: the process manager
# already steers it with signals, and two instances on one host would fight over the default
# path in $HOME, which a hardened service user may not even have.
control_socket_disable = True

# ---------------------------------------------------------------------------- logs
# Both to stdout/stderr for the process manager (journald, the container runtime). The access
# log goes through config.access_log: one JSON object per request, path without query string.
accesslog = "-"
errorlog = "-"
loglevel = env.str("LOG_LEVEL", default="info").lower()
logger_class = "config.access_log.AccessLogger"
