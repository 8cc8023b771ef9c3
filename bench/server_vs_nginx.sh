#!/usr/bin/env bash
# Whole-system throughput of `busylab serve`, reported as a ratio against
# nginx returning a fixed 200 on the same machine in the same run (the
# machine is shared and noisy, so only ratios taken side by side mean much).
#
# For each round: nginx /, busylab GET /control, and POST /rows under every
# strategy, each hammered by wrk for DURATION. Prints requests/s per round,
# the median, and the median as a fraction of nginx's.
#
# Usage: bench/server_vs_nginx.sh            (after `make build`)
#   ROUNDS=3 DURATION=5s CONNECTIONS=64 WRK_THREADS=1 SERVER_THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
SERVER_THREADS=${SERVER_THREADS:-2}
BUSYLAB=${BUSYLAB:-build/release/bin/busylab}
# shellcheck source=bench/nginx.sh
. bench/nginx.sh

require_tools "$BUSYLAB"

work=$(mktemp -d /tmp/busylab-bench-XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  stop_nginx
  rm -rf "$work"
}
trap cleanup EXIT

# start_busylab sets $port and $server_pid in this shell (not inside $(...)).
start_busylab() {  # $1 = strategy
  rm -f "$work"/bench.db* "$work/port"
  "$BUSYLAB" serve --config config/pool.json --set server.port=0 --set "server.threads=$SERVER_THREADS" \
    --set "pool.strategy=$1" --set "database.path=$work/bench.db" --set server.log_level=warn \
    --port-file "$work/port" >"$work/serve.out" 2>"$work/serve.err" &
  server_pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  port=$(cat "$work/port")
}

stop_busylab() { kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

post_script=bench/post_rows.lua

# wrk prints "Requests/sec: N" and, when some failed, "Non-2xx or 3xx responses: N".
run_wrk() {  # $1 = url, $2.. = extra wrk args
  local url=$1; shift
  local out; out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url")
  local rps; rps=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  local bad; bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "${rps:-0} ${bad:-0}"
}

declare -A results
targets=("nginx GET /" "busylab GET /control" "per_request POST /rows" "pool POST /rows" "single_writer POST /rows" "batched POST /rows")

echo "busylab vs nginx: $ROUNDS rounds, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION, server threads $SERVER_THREADS, $(nproc) cores"
for round in $(seq "$ROUNDS"); do
  start_nginx "$SERVER_THREADS" "$work/nginx"
  read -r rps bad < <(run_wrk "http://127.0.0.1:$nginx_port/")
  stop_nginx
  results["nginx GET /"]+="$rps "
  echo "round $round  nginx GET /                 $rps req/s"

  start_busylab pool
  read -r rps bad < <(run_wrk "http://127.0.0.1:$port/control")
  stop_busylab
  results["busylab GET /control"]+="$rps "
  echo "round $round  busylab GET /control        $rps req/s"

  for strategy in per_request pool single_writer batched; do
    start_busylab "$strategy"
    read -r rps bad < <(run_wrk "http://127.0.0.1:$port/rows" -s "$post_script")
    rows=$(curl -fs "http://127.0.0.1:$port/rows/count" | sed 's/[^0-9]//g')
    stop_busylab
    results["$strategy POST /rows"]+="$rps "
    printf 'round %s  %-27s %s req/s  (non-2xx %s, rows %s)\n' "$round" "$strategy POST /rows" "$rps" "$bad" "$rows"
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo
printf '%-26s %14s %12s\n' "target" "median req/s" "vs nginx"
nginx_median=$(median "${results["nginx GET /"]}")
for t in "${targets[@]}"; do
  m=$(median "${results[$t]}")
  printf '%-26s %14.0f %12.3f\n' "$t" "$m" "$(awk -v a="$m" -v b="$nginx_median" 'BEGIN {print a/b}')"
done
