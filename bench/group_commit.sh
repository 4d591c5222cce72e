#!/usr/bin/env bash
# Group commit by measurement (bench/group_commit.rs): 1, 4, 16 and 64
# concurrent SMTP sessions, GC_SECONDS (10) each; msg/s, DATA→250 latency,
# messages per flush and the flush latency histogram from /metrics, next to
# a lone write+fdatasync measured in the same folder in the same run.
# Release build, inside `unshare -n`.
#
# Usage: bench/group_commit.sh        (GC_SECONDS=3 bench/group_commit.sh for a check)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${CARGO_TARGET_DIR:-target}/release
if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q --bin switchboard --example group_commit
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi
ip link set lo up
SWITCHBOARD_BIN=$out/switchboard TMPDIR=${TMPDIR:-$PWD/target} timeout 600 "$out/examples/group_commit"
