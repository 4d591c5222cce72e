#!/usr/bin/env bash
# Fuzzing: each cargo-fuzz target in fuzz/ (libFuzzer) for SECONDS_PER_TARGET
# (600) seconds, seeded with the corpus tests/corpus.rs replays in CI (the
# calls target reads structured input and starts from an empty corpus). Any
# crash stops the script with the reproducer under fuzz/artifacts/; a
# crashing input belongs in tests/corpus/ afterwards. Prints a table of
# runs, execs/s and corpus growth per target. Inside `unshare -n`.
#
# cargo-fuzz builds with sanitizer flags that only nightly rustc accepts;
# the machine's stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
#
# Usage: bench/fuzz.sh                      (every target, 10 minutes each)
#        SECONDS_PER_TARGET=30 bench/fuzz.sh email
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-600}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(email messenger whatsapp sms_webhook custom_publish calls chat_frame)
export RUSTC_BOOTSTRAP=1

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  (cd fuzz && for t in "${targets[@]}"; do cargo fuzz build -O "$t"; done)
  exec env SWITCHBOARD_BENCH_NETNS=1 SECONDS_PER_TARGET="$SECONDS_PER_TARGET" unshare -n "$0" "${targets[@]}"
fi
ip link set lo up

seeds() { # target -> seed folders
  case $1 in
    email) echo tests/corpus/email ;;
    messenger) echo tests/corpus/webhooks/messenger ;;
    whatsapp) echo tests/corpus/webhooks/whatsapp ;;
    sms_webhook) echo tests/corpus/webhooks/sms ;;
    custom_publish) echo tests/corpus/webhooks/custom ;;
    chat_frame) echo tests/corpus/chat ;;
  esac
}

echo "| target | seconds | runs | execs/s | seed inputs | corpus after | crashes |"
echo "|---|---|---|---|---|---|---|"
for target in "${targets[@]}"; do
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  seed_count=0
  for folder in $(seeds "$target"); do
    [ -d "$folder" ] || continue
    cp "$folder"/* "$corpus"/ 2>/dev/null || true
    seed_count=$((seed_count + $(find "$folder" -maxdepth 1 -type f | wc -l)))
  done
  log=$(mktemp)
  set +e
  (cd fuzz && cargo fuzz run -O "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -max_len=1048576 \
      -print_final_stats=1) > "$log" 2>&1
  status=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  after=$(find "$corpus" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
  echo "| $target | $SECONDS_PER_TARGET | ${runs:-?} | ${speed:-?} | $seed_count | $after | $crashes |"
  if [ "$status" -ne 0 ]; then
    echo "fuzzing $target failed (exit $status); last lines:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
  rm -f "$log"
done
