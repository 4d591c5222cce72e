#!/usr/bin/env bash
# The long crash test: tests/crash_mixed.rs with CRASH_ROUNDS (20) rounds of
# CRASH_LOAD_MS (20,000) ms of mixed load each, every round ended by a
# SIGKILL; after each restart every id acknowledged in any round must be
# stored exactly once. Release build, inside `unshare -n`.
#
# Usage: bench/crash_loop.sh       (CRASH_ROUNDS=3 CRASH_LOAD_MS=5000 bench/crash_loop.sh for a check)
set -euo pipefail
cd "$(dirname "$0")/.."
export CRASH_ROUNDS=${CRASH_ROUNDS:-20} CRASH_LOAD_MS=${CRASH_LOAD_MS:-20000}
if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo test --release --locked --no-run -q --test crash_mixed
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi
ip link set lo up
start=$(date +%s)
timeout $((CRASH_ROUNDS * (CRASH_LOAD_MS / 1000 + 60) + 120)) \
  cargo test --release --locked -q --test crash_mixed -- --nocapture 2>&1 | grep -E "^round|test result|panicked|lost|duplicated"
echo "crash loop: $CRASH_ROUNDS rounds of $((CRASH_LOAD_MS / 1000)) s, $(($(date +%s) - start)) s in all"
