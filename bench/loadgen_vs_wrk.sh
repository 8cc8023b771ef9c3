#!/usr/bin/env bash
# How fast is `busylab load` next to wrk? Both hammer the same nginx (a fixed
# 200 on loopback) with the same connections and threads, alternately, for
# PAIRS pairs; prints requests/s of each run, the ratio busylab/wrk per pair
# and the median ratio. Then one busylab run at 1000 connections for its peak
# memory (from its own JSON report).
#
# Usage: bench/loadgen_vs_wrk.sh        (after `make build`)
#   PAIRS=3 DURATION=5s CONNECTIONS=64 THREADS=1 NGINX_WORKERS=1
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}
BUSYLAB=${BUSYLAB:-build/release/bin/busylab}
# shellcheck source=bench/nginx.sh
. bench/nginx.sh

require_tools "$BUSYLAB"

work=$(mktemp -d /tmp/busylab-loadbench-XXXXXX)
cleanup() {
  stop_nginx
  rm -rf "$work"
}
trap cleanup EXIT

start_nginx "$NGINX_WORKERS" "$work/nginx"
url="http://127.0.0.1:$nginx_port/"

echo "busylab load vs wrk against nginx ($NGINX_WORKERS worker): $PAIRS pairs, -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores"
ratios=()
for pair in $(seq "$PAIRS"); do
  wrk_rps=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url" | awk '/Requests\/sec:/ {print $2}')
  "$BUSYLAB" load "$url" -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --json "$work/load.json" >/dev/null
  busylab_rps=$(sed -n 's/.*"requests_per_s": \([0-9.e+]*\).*/\1/p' "$work/load.json")
  ratio=$(awk -v a="$busylab_rps" -v b="$wrk_rps" 'BEGIN {printf "%.3f", a/b}')
  ratios+=("$ratio")
  printf 'pair %s  wrk %10.0f req/s   busylab load %10.0f req/s   ratio %s\n' "$pair" "$wrk_rps" "$busylab_rps" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "median ratio busylab/wrk: $median"

ulimit -n 4096 2>/dev/null || true
"$BUSYLAB" load "$url" -t "$THREADS" -c 1000 -d 3s --json "$work/load1000.json" >/dev/null
rss=$(sed -n 's/.*"peak_rss_mb": \([0-9.e+]*\).*/\1/p' "$work/load1000.json")
rps=$(sed -n 's/.*"requests_per_s": \([0-9.e+]*\).*/\1/p' "$work/load1000.json")
printf 'busylab load at 1000 connections: peak memory %.1f MiB (%.0f req/s)\n' "$rss" "$rps"
