#!/usr/bin/env bash
# Verified-webhook ingestion benchmark (issues 6 and 7): signed Messenger
# and WhatsApp webhook POSTs, signed SMS webhooks (X-Twilio-Signature) and
# web form posts (each with a signed render token) per second, each
# carrying one new message and answered only once it is on disk, against
# GET /healthz of the same daemon, same run, same load generator.
#
# bench/webhook_bench.rs prepares N (20000) distinct signed requests per
# target and round before timing (every one a new message from a new
# person), then sends them over CONNECTIONS (32) keep-alive connections;
# /healthz gets the same N requests over the same kind of connections just
# before. ROUNDS (2) rounds, one daemon; TARGETS (meta,sms,form) picks the
# targets. Every answer must be the target's success status; the stored
# messages are counted through the API afterwards. Prints markdown tables:
# req/s, p50/p99 per round, totals and the ratios.
#
# Release build; runs inside `unshare -n` (loopback only), bounded by
# `timeout`.
#
# Usage: bench/webhooks.sh        (quick run: N=2000 ROUNDS=1 bench/webhooks.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export N=${N:-20000} CONNECTIONS=${CONNECTIONS:-32} ROUNDS=${ROUNDS:-2}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q --bin switchboard --example webhook_bench
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
export SWITCHBOARD_BIN=$out/switchboard
echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
echo
echo "### Verified webhooks vs /healthz"
echo
timeout 900 "$out/examples/webhook_bench"
