#!/usr/bin/env bash
# Web inbox benchmark (issue 9): the conversation list's server time with
# CONVERSATIONS (10,000) conversations (p50/p99 per list query the page
# issues; bench/inbox_list_bench.rs), and the page weight: the HTML, JS and
# CSS the browser loads, raw and gzipped (gzip -9), from src/web/assets.
#
# Runs inside `unshare -n` (loopback only), bounded by `timeout`.
#
# Usage: bench/inbox.sh     (quick run: CONVERSATIONS=2000 REQUESTS=100 bench/inbox.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export CONVERSATIONS=${CONVERSATIONS:-10000} REQUESTS=${REQUESTS:-500}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q --bin switchboard --example inbox_list_bench
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
export SWITCHBOARD_BIN=$out/switchboard
echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
echo
echo "### Web inbox: conversation list server time"
echo
timeout 600 "$out/examples/inbox_list_bench"
echo
echo "### Web inbox: page weight"
echo
assets=src/web/assets
files=("$assets/index.html" "$assets/app.css" "$assets"/js/*.js)
raw=$(cat "${files[@]}" | wc -c)
each_gz=0
for f in "${files[@]}"; do each_gz=$((each_gz + $(gzip -9c "$f" | wc -c))); done
echo "| what | files | raw bytes | gzipped bytes (each file gzip -9) |"
echo "|---|---:|---:|---:|"
echo "| index.html + app.css + js/*.js | ${#files[@]} | $raw | $each_gz |"
