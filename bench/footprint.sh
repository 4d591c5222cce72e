#!/usr/bin/env bash
# Footprint of the daemon: the release binary's size (as built, and
# stripped), idle RSS after start on an empty store, and cold start to READY
# (process start to the `switchboard ready` line on stdout), over 20 starts.
# The reference for the start time is `/bin/true` started the same way, and
# for RSS the same figures of smtp-sink idling, both in the same run. Runs
# inside `unshare -n`: loopback only.
#
# Usage: bench/footprint.sh            (STARTS=20 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
STARTS=${STARTS:-20}
if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  cargo build --release --locked -q
  exec env SWITCHBOARD_BENCH_NETNS=1 STARTS="$STARTS" unshare -n "$0" "$@"
fi
ip link set lo up
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
bin=target/release/switchboard

cp "$bin" "$work/switchboard-stripped"
strip "$work/switchboard-stripped"
size_mb() { python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1]) / 1048576:.1f}')" "$1"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

cp bench/support/switchboard.toml "$work/config.toml"

# Cold start: a fresh store each time (the first start creates it), then
# the same store again (a restart).
starts() { # fresh|restart
  python3 - "$1" "$STARTS" "$bin" "$work" <<'PY'
import os, shutil, statistics, subprocess, sys, time
mode, n, binary, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
times = []
for _ in range(n):
    if mode == "fresh":
        shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--config", os.path.join(work, "config.toml")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    times.append((time.perf_counter() - t0) * 1000)
    assert b"ready" in line, line
    p.terminate(); p.wait()
times.sort()
print(f"{statistics.median(times):.1f} {times[int(len(times) * 0.9)]:.1f}")
PY
}
read -r fresh_p50 fresh_p90 < <(starts fresh)
read -r restart_p50 restart_p90 < <(starts restart)
true_ms=$(python3 - "$STARTS" <<'PY'
import statistics, subprocess, sys, time
times = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter(); subprocess.run(["/bin/true"]); times.append((time.perf_counter() - t0) * 1000)
print(f"{statistics.median(times):.1f}")
PY
)

# Idle RSS, 2 s after READY.
rm -rf "$work/data"
$bin serve --config "$work/config.toml" > "$work/ready" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
sleep 2
idle=$(rss_kb $pid)
kill -TERM $pid; wait $pid || true
smtp-sink -u nobody -m 512 127.0.0.1:47025 1024 &
sink=$!
sleep 2
sink_idle=$(rss_kb $sink)
kill $sink; wait $sink 2>/dev/null || true

echo "| measure | switchboard | reference (same run) |"
echo "|---|---|---|"
echo "| release binary | $(size_mb "$bin") MB ($(size_mb "$work/switchboard-stripped") MB stripped) | – |"
echo "| cold start to READY, new store (p50 / p90 of $STARTS) | ${fresh_p50} / ${fresh_p90} ms | /bin/true: ${true_ms} ms |"
echo "| start to READY, existing store (p50 / p90 of $STARTS) | ${restart_p50} / ${restart_p90} ms | /bin/true: ${true_ms} ms |"
echo "| idle RSS | $((idle / 1024)) MB (${idle} KB) | smtp-sink idle: ${sink_idle} KB |"
