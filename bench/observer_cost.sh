#!/usr/bin/env bash
# What watching busylab costs the server: POST /rows throughput (wrk, pool
# strategy, WAL, synchronous=normal) with nobody watching, against the same
# run while something watches, each as a ratio to the unwatched run of the
# same round (the machine is shared and noisy: only side-by-side ratios mean
# much). The watchers:
#   stats      a poller of GET /stats at 4 Hz (what the dashboard page asks for)
#   metrics    a Prometheus-style scraper of GET /metrics at 1 Hz
#   dashboard  headless chromium with /dashboard open, polling and drawing in
#              real time (its rendering competes for the same cores)
# With BASELINE=/path/to/an/older/busylab each round also runs GET /control and
# POST /rows on that binary, and prints this binary's figures over the
# baseline's: the cost of a change to the request path.
#
# Usage: bench/observer_cost.sh        (after `make build`)
#   ROUNDS=3 DURATION=5s CONNECTIONS=64 BUSYLAB=build/release/bin/busylab BASELINE=
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
BUSYLAB=${BUSYLAB:-build/release/bin/busylab}
BASELINE=${BASELINE:-}
for tool in "$BUSYLAB" wrk curl chromium ${BASELINE:+"$BASELINE"}; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (make build; scripts/bootstrap)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/busylab-observer-XXXXXX)
server_pid="" watcher_pid=""
stop_pid() {  # $1 = pid: TERM, then KILL after 10 s
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() { stop_pid "$watcher_pid"; stop_pid "$server_pid"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT

start_server() {  # $1 = binary; sets $port and $server_pid
  rm -f "$work"/bench.db* "$work/port"
  "$1" serve --config config/pool.json --set server.port=0 --set server.threads=1 --set pool.size=4 \
    --set database.journal_mode=wal --set database.synchronous=normal --set "database.path=$work/bench.db" \
    --set server.log_level=warn --port-file "$work/port" >"$work/serve.out" 2>"$work/serve.err" &
  server_pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { echo "server did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
  port=$(cat "$work/port")
}

start_watcher() {  # $1 = none | stats | metrics | dashboard; sets $watcher_pid
  watcher_pid=""
  case $1 in
    stats) (while curl -fs -o /dev/null "http://127.0.0.1:$port/stats"; do sleep 0.25; done) & watcher_pid=$! ;;
    metrics) (while curl -fs -o /dev/null "http://127.0.0.1:$port/metrics"; do sleep 1; done) & watcher_pid=$! ;;
    dashboard)
      chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" --remote-debugging-port=0 \
        "http://127.0.0.1:$port/dashboard" >/dev/null 2>&1 &
      watcher_pid=$!
      sleep 2  # let it load the page and start polling
      ;;
  esac
}

run() {  # $1 = binary, $2 = watcher, $3 = path; echoes req/s
  start_server "$1"
  start_watcher "$2"
  local args=(-t1 "-c$CONNECTIONS" "-d$DURATION")
  [ "$3" = /rows ] && args+=(-s bench/post_rows.lua)
  local out; out=$(timeout 120 wrk "${args[@]}" "http://127.0.0.1:$port$3" || true)
  stop_pid "$watcher_pid"; watcher_pid=""
  stop_pid "$server_pid"; server_pid=""
  awk '/Requests\/sec:/ {print $2}' <<<"$out"
}

declare -A ratios
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "observer cost: $ROUNDS rounds, wrk -t1 -c$CONNECTIONS -d$DURATION, POST /rows, pool.size 4, WAL, $(nproc) cores"
for round in $(seq "$ROUNDS"); do
  base=$(run "$BUSYLAB" none /rows)
  printf 'round %s  %-28s %10s req/s\n' "$round" "unwatched" "$base"
  for w in stats metrics dashboard; do
    v=$(run "$BUSYLAB" "$w" /rows)
    ratios[$w]+="$(awk -v a="$v" -v b="$base" 'BEGIN {printf "%.3f", a / b}') "
    printf 'round %s  %-28s %10s req/s\n' "$round" "watched by $w" "$v"
  done
  if [ -n "$BASELINE" ]; then
    for path in /control /rows; do
      new=$(run "$BUSYLAB" none "$path")
      old=$(run "$BASELINE" none "$path")
      ratios["this/baseline $path"]+="$(awk -v a="$new" -v b="$old" 'BEGIN {printf "%.3f", a / b}') "
      printf 'round %s  %-28s %10s req/s (baseline %s)\n' "$round" "GET/POST $path" "$new" "$old"
    done
  fi
done
echo
echo "medians of per-round ratios (1.000 = no cost):"
for k in "${!ratios[@]}"; do printf '  %-28s %s   (rounds: %s)\n' "$k" "$(median <<<"${ratios[$k]}")" "${ratios[$k]}"; done | sort
