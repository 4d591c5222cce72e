#!/usr/bin/env bash
# Routing benchmark (issue 4): ingest rate with routing and tickets on vs off,
# same run, same machine, same load.
#
# bench/routing_bench.rs sends MAILS (5000) ~4.7 KB mails over SESSIONS (20)
# concurrent reused SMTP sessions, each mail a new contact and a new
# conversation, to a fresh release daemon whose channel has no rules ("off")
# or routes to a team of four available agents and opens a ticket owned by
# the assignee ("on"); off and on alternate for ROUNDS (2) rounds. The store
# is checked afterwards (all conversations stored; with routing on, all
# assigned and ticketed). Prints markdown tables: msg/s for both, the ratio,
# and the routing cost per conversation in µs = 1/rate_on − 1/rate_off.
#
# Runs inside `unshare -n` (loopback only), bounded by `timeout`.
#
# Usage: bench/routing.sh        (quick run: MAILS=1000 ROUNDS=1 bench/routing.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export MAILS=${MAILS:-5000} SESSIONS=${SESSIONS:-20} ROUNDS=${ROUNDS:-2}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q --bin switchboard --example routing_bench
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
export SWITCHBOARD_BIN=$out/switchboard
echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
echo
echo "### Routing and tickets: ingest rate on vs off"
echo
timeout 900 "$out/examples/routing_bench"
