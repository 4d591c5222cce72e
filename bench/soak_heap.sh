#!/usr/bin/env bash
# Where the daemon's memory goes during a soak: runs bench/soak.rs as an
# ingest soak (NEW_MAILS=20 NEW_WEBHOOKS=20, HEAP_SECONDS=600) with the
# daemon under heaptrack (Debian's `heaptrack`, installed if missing), then
# prints the live heap by owner at a tenth, half and the end of the run
# (bench/support/heap_by_owner.py). Inside `unshare -n`.
#
# Usage: bench/soak_heap.sh        (HEAP_SECONDS=120 bench/soak_heap.sh to check)
set -euo pipefail
cd "$(dirname "$0")/.."
export HEAP_SECONDS=${HEAP_SECONDS:-600}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  missing=()
  command -v smtp-sink >/dev/null || missing+=(postfix)
  command -v heaptrack >/dev/null || missing+=(heaptrack)
  command -v zstdcat >/dev/null || missing+=(zstd)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  cargo build --release --locked -q --bin switchboard --example soak
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
work=$(mktemp -d)
smtp-sink -u nobody -m 512 127.0.0.1:47025 1024 &
sink=$!
trap 'kill $sink 2>/dev/null || true; rm -rf "$work"' EXIT
daemon=$(realpath "$out/switchboard")
# The soak reads the daemon's ready line from its standard output, where
# heaptrack also talks: keep only the ready line.
cat > "$work/daemon" <<WRAP
#!/bin/sh
if [ "\$1" = serve ]; then
  heaptrack -o "$work/heap" "$daemon" "\$@" | grep --line-buffered 'smtp='
else
  exec "$daemon" "\$@"
fi
WRAP
chmod +x "$work/daemon"
sleep 0.5
SWITCHBOARD_BIN=$work/daemon SOAK_SECONDS=$HEAP_SECONDS RELAY_PORT=47025 NEW_MAILS=20 NEW_WEBHOOKS=20 \
  timeout $((HEAP_SECONDS * 3 + 300)) "$out/examples/soak" > "$work/samples.csv" 2> "$work/soak.log" || {
  cat "$work/soak.log"
  exit 1
}
grep summary "$work/soak.log" || true
# The soak stopped the wrapper; stop the daemon under heaptrack and let
# heaptrack finish writing.
pkill -TERM -f "^$daemon serve" || true
while pgrep -f "heaptrack -o $work/heap" >/dev/null; do sleep 1; done
moments="$((HEAP_SECONDS / 10)) $((HEAP_SECONDS / 2)) $((HEAP_SECONDS - 5))"
python3 bench/support/heap_by_owner.py "$work"/heap*.zst $moments
