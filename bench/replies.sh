#!/usr/bin/env bash
# Reply and live-event benchmarks (issue 3).
#
#  1. bench/reply_bench.rs: reply-to-relay latency p50/p99 (POST a reply,
#     time until a loopback relay has its DATA; N_LATENCY=1000 one at a time)
#     and outbox throughput (N_THROUGHPUT=5000 replies queued while the relay
#     holds MAIL FROM, then messages/s until the last one arrives). Same-run
#     reference: lettre, the client the daemon uses, straight to that relay.
#  2. bench/event_fanout.rs: events/s delivered to SOCKETS=100 agent sockets
#     while MAILS=2000 mails arrive over SMTP; reference: a bare
#     tokio-tungstenite broadcast server pushing the same frames.
#
# Release builds; everything runs inside `unshare -n` (loopback only), each
# part bounded by `timeout`. Prints markdown tables.
#
# Usage: bench/replies.sh      (quick run: N_LATENCY=200 N_THROUGHPUT=1000 MAILS=500 bench/replies.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export N_LATENCY=${N_LATENCY:-1000} N_THROUGHPUT=${N_THROUGHPUT:-5000}
export SOCKETS=${SOCKETS:-100} MAILS=${MAILS:-2000}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q --bin switchboard --example reply_bench --example event_fanout
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
export SWITCHBOARD_BIN=$out/switchboard
echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
echo
echo "### Replies through a loopback relay"
echo
timeout 900 "$out/examples/reply_bench"
echo
echo "### Event fan-out"
echo
timeout 600 "$out/examples/event_fanout"
