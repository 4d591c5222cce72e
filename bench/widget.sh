#!/usr/bin/env bash
# Website-chat load benchmark (issue 5): idle visitor sockets held with the
# memory per socket, visitor message -> agent event and agent reply ->
# visitor latency (p50/p99/p99.9) at a steady rate, each against a bare
# tokio-tungstenite echo server with the same buffer settings
# (bench/ws_echo.rs), measured in the same run. See bench/widget_load.rs.
#
# Release build; runs inside `unshare -n` (loopback only), bounded by
# `timeout`; raises the open-files limit to the hard limit for the held
# sockets (10,000 need more than the common 1,024 default).
#
# Usage: bench/widget.sh
#        (quick run: SOCKETS=1000 MSGS=500 bench/widget.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export SOCKETS=${SOCKETS:-10000} VISITORS=${VISITORS:-100} MSGS=${MSGS:-2000} RATE=${RATE:-1000}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q --bin switchboard --example widget_load --example ws_echo
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export SWITCHBOARD_BIN=$out/switchboard
echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
echo "widget.js: $(wc -c < src/channels/chat/widget.js) bytes, $(gzip -9 -c src/channels/chat/widget.js | wc -c) gzipped"
echo
timeout 600 "$out/examples/widget_load"
