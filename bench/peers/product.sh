#!/usr/bin/env bash
# The product as rows of the shared peer bench (bench/peers/peers.conf, through BENCH_PEERS_FILE):
#   product.sh prepare    migrates $BENCH_DB and seeds a campaign "bench" at the stub (seed.py)
#   product.sh start      gunicorn with $GUNICORN_ARGS, the same server settings as every peer
#   product.sh start-own  gunicorn with the product's own production configuration
#                         (config/gunicorn.conf.py) on the same port
#   product.sh prepare-floor | start-floor | start-floor-own
#                         the floor rows: the least an OAuth login costs on the same stack and
#                         settings (bench/floor_peer_urls.py), with either gunicorn setting
# Runs in $PRODUCT_DIR, whose .venv must exist. Production settings (DEBUG off), with plain http
# to the stub on loopback allowed (bench.login_settings: with DEBUG off the environment flag is
# ignored), a local-memory cache and rate limits out of the way.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$PWD/.venv/bin/python"
export DJANGO_SETTINGS_MODULE=bench.login_settings DJANGO_DEBUG=0
export DJANGO_SECRET_KEY="bench-secret-key-not-for-production-0123456789abcdefghijklmnop"
export FIELD_ENCRYPTION_KEY="KVirw7uiFOs9wI_cL1x0tQ_jqkIGt8wpHH0X5iaSEm4="
export DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_SECURE_COOKIES=0
export DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"
export DATABASE_URL="sqlite:///$BENCH_DB"
export CACHE_URL="${PRODUCT_CACHE_URL:-locmemcache://bench}"
export PUBLIC_BASE_URL="$BENCH_APP_URL"
export RATE_LIMIT_LOGIN_PER_IP="1000000/m" RATE_LIMIT_LOGIN_PER_CAMPAIGN="1000000/m"
export LOG_LEVEL=WARNING
case "${1:-}" in
  prepare-floor|start-floor|start-floor-own)
    export DJANGO_SETTINGS_MODULE=bench.floor_peer_settings ;;
esac
case "${1:-}" in
  prepare-floor)
    "$PY" manage.py migrate --noinput -v0
    "$PY" manage.py collectstatic --noinput -v0 ;;
  prepare)
    "$PY" manage.py migrate --noinput -v0
    "$PY" manage.py collectstatic --noinput -v0
    "$PY" manage.py shell < "$HERE/seed.py" ;;
  start|start-floor)
    exec ${BENCH_WRAP:-} "$PWD/.venv/bin/gunicorn" $GUNICORN_ARGS config.wsgi:application ;;
  start-own|start-floor-own)
    export HOST=127.0.0.1 PORT="$BENCH_APP_PORT"
    exec ${BENCH_WRAP:-} "$PWD/.venv/bin/gunicorn" -c config/gunicorn.conf.py config.wsgi:application ;;
  *) echo "usage: product.sh prepare|start|start-own|prepare-floor|start-floor|start-floor-own" >&2
     exit 2 ;;
esac
