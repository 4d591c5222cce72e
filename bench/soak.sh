#!/usr/bin/env bash
# Soak: 30 minutes (SECONDS_TOTAL=1800) of steady mixed load (bench/soak.rs:
# SMTP mail, re-deliveries and refused recipients; signed, replayed and
# forged Messenger webhooks; website visitors over /ws/chat; API reads and
# /metrics; agent replies delivered by the outbox to an smtp-sink relay; a
# resuming events subscriber), RSS and open file descriptors sampled every
# 10 s into bench/soak.csv and plotted to bench/soak.svg (matplotlib, in a
# venv under target/). Inside `unshare -n`. The soak's rates can be set
# through its environment (see bench/soak.rs).
#
# Usage: bench/soak.sh            (SECONDS_TOTAL=60 bench/soak.sh for a check)
set -euo pipefail
cd "$(dirname "$0")/.."
export SECONDS_TOTAL=${SECONDS_TOTAL:-1800}
out=${CARGO_TARGET_DIR:-target}/release

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  command -v smtp-sink >/dev/null || {
    apt-get update -qq
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  }
  if [ ! -x target/bench-venv/bin/python ] || ! target/bench-venv/bin/python -c "import matplotlib" 2>/dev/null; then
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install -q matplotlib
  fi
  cargo build --release --locked -q --bin switchboard --example soak
  exec env SWITCHBOARD_BENCH_NETNS=1 unshare -n "$0" "$@"
fi

ip link set lo up
smtp-sink -u nobody -m 512 127.0.0.1:47025 1024 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5
SWITCHBOARD_BIN=$out/switchboard SOAK_SECONDS=$SECONDS_TOTAL RELAY_PORT=47025 \
  timeout $((SECONDS_TOTAL + 300)) "$out/examples/soak" > bench/soak.csv
target/bench-venv/bin/python bench/support/plot_soak.py bench/soak.csv bench/soak.svg
echo "wrote bench/soak.csv and bench/soak.svg"
