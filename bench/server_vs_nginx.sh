#!/usr/bin/env bash
# Whole-system throughput of `busylab serve`, each figure reported as a ratio
# against a reference measured beside it in the same run on the same machine
# (the machine is shared and noisy, so only ratios taken side by side mean much):
#   - the HTTP layer (GET /control, no database) against nginx returning a fixed 200;
#   - writes (POST /rows) against raw SQLite: bench/sqlite_probe.cpp committing
#     BEGIN IMMEDIATE; INSERT; COMMIT in a loop on one connection with the same
#     journal mode and synchronous setting (what SQLite itself does here).
#
# Each round, one after the other, each for DURATION: nginx GET /, busylab GET
# /control, the probe (raw SQLite commits), then POST /rows under every
# strategy. With FULL_SYNC=1 the round then runs the probe, pool POST /rows and
# batched POST /rows again at synchronous=full. Every busylab run gets a fresh
# server and database: config/pool.json with the strategy swapped and
#   --set pool.size=4 --set database.journal_mode=wal --set database.synchronous=$SYNCHRONOUS
# After each POST run it reads GET /rows/count and checks that the table holds
# at least as many rows as wrk got 2xx answers (exit status 1 if not).
# Prints every run, then per target the median over the rounds and its ratio to
# nginx's median (nginx and /control) or to raw SQLite's median (the probe and
# POST /rows), then batched POST /rows over busylab GET /control and, with
# FULL_SYNC=1, batched over pool at synchronous=full (the median of the
# per-round ratios, since both ran in the same round).
#
# Usage: bench/server_vs_nginx.sh            (after `make build`)
#   ROUNDS=3 DURATION=5s CONNECTIONS=64 WRK_THREADS=1 SERVER_THREADS=1 SYNCHRONOUS=normal FULL_SYNC=1
#   ROUNDS          rounds; medians are taken over them
#   DURATION        each run, wrk's syntax: N, Ns, Nm or Nh (the probe runs as long)
#   CONNECTIONS     wrk connections (-c)
#   WRK_THREADS     wrk threads (-t)
#   SERVER_THREADS  busylab io threads (server.threads) and nginx workers
#   SYNCHRONOUS     off | normal | full | extra, for busylab and the probe in the main runs
#   FULL_SYNC       1: also the synchronous=full phase (pool, batched, probe); 0: skip it
#   BUSYLAB, PROBE, NGINX   paths of the binaries (defaults: build/release/bin/..., /usr/sbin/nginx)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
SERVER_THREADS=${SERVER_THREADS:-1}
SYNCHRONOUS=${SYNCHRONOUS:-normal}
FULL_SYNC=${FULL_SYNC:-1}
BUSYLAB=${BUSYLAB:-build/release/bin/busylab}
PROBE=${PROBE:-build/release/bin/busylab_sqlite_probe}
JOURNAL_MODE=wal  # busylab and the probe alike
POOL_SIZE=4
# shellcheck source=bench/nginx.sh
. bench/nginx.sh

require_tools "$BUSYLAB" "$PROBE" curl

# DURATION in whole seconds, for the probe (wrk takes an integer with an
# optional s, m or h).
if [[ $DURATION =~ ^([0-9]+)([smh]?)$ ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
  case ${BASH_REMATCH[2]} in
    m) seconds=$((BASH_REMATCH[1] * 60)) ;;
    h) seconds=$((BASH_REMATCH[1] * 3600)) ;;
    *) seconds=${BASH_REMATCH[1]} ;;
  esac
else
  echo "DURATION: expected N, Ns, Nm or Nh with N > 0, got '$DURATION'" >&2
  exit 2
fi
case $SYNCHRONOUS in off | normal | full | extra) ;; *)
  echo "SYNCHRONOUS: expected off, normal, full or extra, got '$SYNCHRONOUS'" >&2
  exit 2
  ;;
esac
case $FULL_SYNC in 0 | 1) ;; *) echo "FULL_SYNC: expected 0 or 1, got '$FULL_SYNC'" >&2; exit 2 ;; esac
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS: expected a positive integer, got '$ROUNDS'" >&2; exit 2; }
# Any single wrk or probe run that outlives its duration by this much is stuck.
run_limit=$((seconds + 60))

work=$(mktemp -d /tmp/busylab-bench-XXXXXX)
server_pid=""
checks_failed=0

# Stops the server within 10 s: TERM (graceful), then KILL.
stop_busylab() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

cleanup() {
  stop_busylab
  stop_nginx
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_busylab sets $port and $server_pid in this shell (not inside $(...)).
start_busylab() {  # $1 = strategy, $2 = synchronous
  rm -f "$work"/bench.db* "$work/port"
  "$BUSYLAB" serve --config config/pool.json --set server.port=0 --set "server.threads=$SERVER_THREADS" \
    --set "pool.strategy=$1" --set "pool.size=$POOL_SIZE" \
    --set "database.journal_mode=$JOURNAL_MODE" --set "database.synchronous=$2" \
    --set "database.path=$work/bench.db" --set server.log_level=warn \
    --port-file "$work/port" >"$work/serve.out" 2>"$work/serve.err" &
  server_pid=$!
  for _ in $(seq 200); do
    [ -s "$work/port" ] || ! kill -0 "$server_pid" 2>/dev/null && break
    sleep 0.05
  done
  if [ ! -s "$work/port" ]; then
    echo "busylab serve ($1, synchronous=$2) exited or did not listen within 10 s:" >&2
    cat "$work/serve.err" >&2
    exit 1
  fi
  port=$(cat "$work/port")
}

post_script=bench/post_rows.lua

# wrk prints "N requests in ...", "Requests/sec: N" and, when some failed,
# "Non-2xx or 3xx responses: N". Echoes "req/s requests non-2xx".
run_wrk() {  # $1 = url, $2.. = extra wrk args
  local url=$1; shift
  local out; out=$(timeout "$run_limit" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url" || true)
  local rps; rps=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  local requests; requests=$(awk '/ requests in / {print $1}' <<<"$out")
  local bad; bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "${rps:-0} ${requests:-0} ${bad:-0}"
}

# Raw SQLite on a fresh database in $work; sets $probe_rate (commits/s) and
# $sqlite_version in this shell (not inside $(...)). $1 = synchronous.
run_probe() {
  rm -f "$work"/probe.db*
  local out
  out=$(timeout "$run_limit" "$PROBE" --db "$work/probe.db" --seconds "$seconds" \
    --journal-mode "$JOURNAL_MODE" --synchronous "$1" --json) || { echo "$PROBE failed" >&2; exit 1; }
  rm -f "$work"/probe.db*
  probe_rate=$(sed -n 's/.*"commits_per_s":\([0-9.]*\).*/\1/p' <<<"$out")
  sqlite_version=$(sed -n 's/.*"sqlite_version":"\([^"]*\)".*/\1/p' <<<"$out")
}

declare -A results  # target -> "value value ..." (one per round)

record() {  # $1 = round, $2 = target, $3 = value, $4 = unit, $5 = note (optional)
  results["$2"]+="$3 "
  printf 'round %s  %-36s %10s %s%s\n' "$1" "$2" "$3" "$4" "${5:+  ($5)}"
}

# One POST /rows run: fresh server and database, wrk, then the row check.
post_rows() {  # $1 = round, $2 = strategy, $3 = synchronous, $4 = target
  local rps requests bad rows note
  start_busylab "$2" "$3"
  read -r rps requests bad < <(run_wrk "http://127.0.0.1:$port/rows" -s "$post_script")
  rows=$(curl -fs --max-time 10 "http://127.0.0.1:$port/rows/count" | sed 's/[^0-9]//g' || true)
  stop_busylab
  note="requests $requests, non-2xx $bad, rows ${rows:-?}"
  # Every 2xx is a committed row; rows may exceed it by writes in flight when wrk stopped.
  if [ "$requests" -eq 0 ]; then
    note+=", CHECK FAILED: no answers"
    checks_failed=1
  elif [ -z "$rows" ] || [ "$rows" -lt $((requests - bad)) ]; then
    note+=", CHECK FAILED: fewer rows than 2xx answers"
    checks_failed=1
  fi
  record "$1" "$4" "$rps" "req/s" "$note"
}

targets=("nginx GET /" "busylab GET /control" "raw SQLite commits")
strategies=(per_request pool single_writer batched)
for strategy in "${strategies[@]}"; do targets+=("$strategy POST /rows"); done
full_targets=("raw SQLite commits (sync=full)" "pool POST /rows (sync=full)" "batched POST /rows (sync=full)")

echo "busylab vs nginx and raw SQLite: $ROUNDS rounds, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION," \
  "server threads $SERVER_THREADS, pool.size $POOL_SIZE, journal_mode $JOURNAL_MODE, synchronous $SYNCHRONOUS," \
  "synchronous=full phase $([ "$FULL_SYNC" = 1 ] && echo on || echo off), $(nproc) cores"
for round in $(seq "$ROUNDS"); do
  start_nginx "$SERVER_THREADS" "$work/nginx"
  read -r rps requests bad < <(run_wrk "http://127.0.0.1:$nginx_port/")
  stop_nginx
  record "$round" "nginx GET /" "$rps" "req/s" "non-2xx $bad"

  start_busylab pool "$SYNCHRONOUS"
  read -r rps requests bad < <(run_wrk "http://127.0.0.1:$port/control")
  stop_busylab
  record "$round" "busylab GET /control" "$rps" "req/s" "non-2xx $bad"

  run_probe "$SYNCHRONOUS"
  record "$round" "raw SQLite commits" "$probe_rate" "commits/s"

  for strategy in "${strategies[@]}"; do
    post_rows "$round" "$strategy" "$SYNCHRONOUS" "$strategy POST /rows"
  done

  if [ "$FULL_SYNC" = 1 ]; then
    run_probe full
    record "$round" "raw SQLite commits (sync=full)" "$probe_rate" "commits/s"
    post_rows "$round" pool full "pool POST /rows (sync=full)"
    post_rows "$round" batched full "batched POST /rows (sync=full)"
  fi
done

# Median of the numbers in $1 ('-' and empty entries skipped; '-' when none is left).
median() {
  tr ' ' '\n' <<<"$1" | awk 'NF && $1 != "-"' | sort -g |
    awk '{a[NR]=$1} END {if (!NR) print "-"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
# $1/$2 to three decimals, '-' when either is '-' or $2 is not positive.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || !(b + 0 > 0)) print "-"; else printf "%.3f", a/b}'; }

# The median over rounds of $1/$2 taken round by round (both ran in the same round).
median_ratio() {
  local -a a b
  read -ra a <<<"${results[$1]}"
  read -ra b <<<"${results[$2]}"
  local i per_round=""
  for i in "${!a[@]}"; do per_round+="$(ratio "${a[$i]}" "${b[$i]:--}") "; done
  ratio "$(median "$per_round")" 1
}

print_row() {  # $1 = target, $2 = ratio vs nginx, $3 = ratio vs raw SQLite
  local m; m=$(median "${results[$1]}")
  [ "$m" = - ] || m=$(printf '%.0f' "$m")
  printf '%-32s %14s %10s %14s\n' "$1" "$m" "$2" "$3"
}

echo
echo "medians over $ROUNDS rounds (raw SQLite rows: commits/s), SQLite ${sqlite_version:-?};"
echo "'vs raw SQLite' divides by raw SQLite's median at the same synchronous setting"
printf '%-32s %14s %10s %14s\n' "target" "median req/s" "vs nginx" "vs raw SQLite"
nginx_median=$(median "${results["nginx GET /"]}")
raw_median=$(median "${results["raw SQLite commits"]}")
for t in "${targets[@]}"; do
  m=$(median "${results[$t]}")
  case $t in
    "nginx GET /" | "busylab GET /control") print_row "$t" "$(ratio "$m" "$nginx_median")" "-" ;;
    *) print_row "$t" "-" "$(ratio "$m" "$raw_median")" ;;
  esac
done
if [ "$FULL_SYNC" = 1 ]; then
  raw_full_median=$(median "${results["raw SQLite commits (sync=full)"]}")
  for t in "${full_targets[@]}"; do
    print_row "$t" "-" "$(ratio "$(median "${results[$t]}")" "$raw_full_median")"
  done
fi

echo
printf '%-52s %s\n' "batched POST /rows / busylab GET /control (medians):" \
  "$(ratio "$(median "${results["batched POST /rows"]}")" "$(median "${results["busylab GET /control"]}")")"
if [ "$FULL_SYNC" = 1 ]; then
  printf '%-52s %s\n' "batched / pool at synchronous=full (median ratio):" \
    "$(median_ratio "batched POST /rows (sync=full)" "pool POST /rows (sync=full)")"
fi

if [ "$checks_failed" = 1 ]; then
  echo "row check failed in at least one POST /rows run (see 'CHECK FAILED' above)" >&2
  exit 1
fi
