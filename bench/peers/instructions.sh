#!/usr/bin/env bash
# Instructions per login, for the peer bench's rows: a measure of each app's own work that the
# machine's noise does not move (valgrind's callgrind counts instructions, not seconds).
#
#   bench/peers/instructions.sh [row ...]     default: product mozilla floor
#
# Each row of bench/peers/peers.conf is run twice by the shared harness (../shared/peer-bench,
# PEER_BENCH= elsewhere) with one sync worker and one virtual participant, its gunicorn under
# callgrind: FIRST logins, then FIRST+COUNT logins (default 30 and 130), no timed warm-up. The
# difference of the two runs' instructions (master and worker) is COUNT logins after the first
# FIRST: imports, first renders and key fetches fall out. A run takes about 2 minutes (the app
# runs some 50 times slower). Counts are user-space instructions: the kernel's share of a
# request (sockets, SQLite's writes) is not in them, so they compare the apps' Python, not
# their CPU time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEER_BENCH="${PEER_BENCH:-$ROOT/../shared/peer-bench}"
FIRST="${FIRST:-30}" COUNT="${COUNT:-100}"
# The product's rows on Redis rather than the peer bench's per-process cache: under callgrind a
# login takes about a second, and with a cache that is not shared the product reads its campaign
# from the database again after each second (core/process_cache.py), which at the bench's 40
# logins/s per worker it does a few times a second, not at every request.
export PRODUCT_CACHE_URL="${PRODUCT_CACHE_URL:-redis://127.0.0.1:6379/9}"
ROWS=("$@"); [ ${#ROWS[@]} -gt 0 ] || ROWS=(product mozilla floor)
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
OUT="$(mktemp -d -t instructions.XXXXXX)"
# The same table with each row's gunicorn under callgrind: the peers' start commands begin with
# `gunicorn`; product.sh puts $BENCH_WRAP before its own.
WRAP='valgrind --tool=callgrind --callgrind-out-file=$CG_OUT/%p'
sed -e "s#| gunicorn #| $WRAP gunicorn #" \
    -e "s#| \(\${PRODUCT_DIR}/bench/peers/product.sh start\)#| env BENCH_WRAP=\"$WRAP\" \1#" \
    "$ROOT/bench/peers/peers.conf" > "$OUT/peers.conf"
instructions() {  # row, logins: the instructions of the row's gunicorn processes
  export CG_OUT="$OUT/$1.$2"; mkdir -p "$CG_OUT"
  # Each run's IdP stub has a new key, and a new kid with it: keys a previous run left in the
  # shared cache, with their refetch cooldown (a minute), would refuse its first logins.
  case "$PRODUCT_CACHE_URL" in redis://*) redis-cli -u "$PRODUCT_CACHE_URL" flushdb >/dev/null ;; esac
  PRODUCT_DIR="$ROOT" BENCH_PEERS_FILE="$OUT/peers.conf" BENCH_WORKERS=1 \
    "$PEER_BENCH/run.sh" -r 1 -c 1 -w 0 -d 100000 -n "$2" -o "$CG_OUT/run" "$1" \
    > "$CG_OUT/run.log" 2>&1 || { tail -20 "$CG_OUT/run.log" >&2; exit 1; }
  grep -q "n=$2 *errors=0" "$CG_OUT/run.log" || { tail -5 "$CG_OUT/run.log" >&2; exit 1; }
  cat "$CG_OUT"/[0-9]* | awk '/^totals:/ {s += $2} END {printf "%d\n", s}'
}
echo "# instructions per login, logins $((FIRST + 1))-$((FIRST + COUNT)), one sync worker, one participant"
for row in "${ROWS[@]}"; do
  before="$(instructions "$row" "$FIRST")"
  after="$(instructions "$row" "$((FIRST + COUNT))")"
  echo "$row $(( (after - before) / COUNT ))"
done | tee "$OUT/instructions.txt" | awk '
  NR == 1 { base = $2; first = $1; ratio = "(the base of the ratios)" }
  NR > 1 { ratio = sprintf("x%.2f of %s", $2 / base, first) }
  { printf "%-12s %6.2f M instructions per login  %s\n", $1, $2 / 1e6, ratio }'
echo "# logs and callgrind files: $OUT"
