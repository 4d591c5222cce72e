#!/usr/bin/env bash
# Durable SMTP ingest benchmark.
#
# Postfix's smtp-source sends N ~4.7 KB messages over 20 concurrent sessions,
# once with one connection per message and once reusing connections (-d), to
#   (a) smtp-sink, Postfix's do-nothing SMTP server: the ceiling,
#   (b) durable peers: a private Postfix instance delivering into a Maildir
#       (bench/support/postfix_peer.sh) and aiosmtpd's Maildir handler (both
#       fsync each message), and
#   (c) Switchboard (release build), which flushes to disk before every 250.
# Messages are counted in each store afterwards (Maildir files, Switchboard's
# API), not just the 250s; a peer's time runs until its last message is
# stored (Postfix delivers from its queue after the 250).
# Also reports Switchboard's store flushes (group commit) and its RSS idle and
# after the load. Everything runs inside `unshare -n`: loopback only.
#
# Usage: bench/smtp_ingest.sh            (N=20000 by default; N=2000 for a quick run)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
SESSIONS=20

if [ -z "${SWITCHBOARD_BENCH_NETNS:-}" ]; then
  if ! command -v smtp-source >/dev/null; then
    apt-get update -qq
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  fi
  if [ ! -x target/bench-venv/bin/aiosmtpd ]; then
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install -q aiosmtpd==1.4.6
  fi
  cargo build --release --locked -q
  exec env SWITCHBOARD_BENCH_NETNS=1 N="$N" unshare -n "$0" "$@"
fi

ip link set lo up
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
bin=target/release/switchboard

# A realistic text mail, ~4.7 KB, display names in From and To, no Message-ID
# (so that every copy is a new message rather than a duplicate).
{
  printf 'From: "Alice Customer" <alice@customer.example>\r\n'
  printf 'To: "Support" <support@example.com>\r\n'
  printf 'Subject: My order has not arrived yet\r\n'
  printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
  for i in $(seq 1 60); do
    printf 'Line %02d of a customer message that explains what went wrong in detail.\r\n' "$i"
  done
} > "$work/msg5k.eml"

cp bench/support/switchboard.toml "$work/config.toml"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):.0f}')"; }

run_source() { # port extra-flags...
  local port=$1; shift
  timeout 600 smtp-source -s $SESSIONS -m "$N" -F "$work/msg5k.eml" -f alice@customer.example \
    -t support@example.com -M client.test "$@" "127.0.0.1:$port"
}

echo "| target | mode | messages | seconds | msg/s | stored | load avg |"
echo "|---|---|---|---|---|---|---|"

# (a) smtp-sink, the ceiling.
smtp-sink -u nobody -m 512 127.0.0.1:47025 1024 &
sink=$!
sleep 0.5
for mode in conn reuse; do
  flags=(); [ "$mode" = reuse ] && flags=(-d)
  t0=$(now); run_source 47025 "${flags[@]}"; t1=$(now)
  echo "| smtp-sink (ceiling) | $mode | $N | $(python3 -c "print(f'{$t1-$t0:.2f}')") | $(rate "$N" "$t0" "$t1") | – | $(cut -d' ' -f1 /proc/loadavg) |"
done
kill $sink; wait $sink 2>/dev/null || true

# Waits until DIR holds N delivered Maildir files (at most 300 s); prints the
# count and the time it was reached.
wait_stored() { # dir
  local count=0
  for _ in $(seq 3000); do
    count=$(find "$1" -type f -path '*/new/*' 2>/dev/null | wc -l)
    [ "$count" -ge "$N" ] && break
    sleep 0.1
  done
  echo "$count $(now)"
}

# (b) Durable peers.
for mode in conn reuse; do
  rm -rf "$work/postfix"
  bench/support/postfix_peer.sh start "$work/postfix" 47027
  sleep 1
  flags=(); [ "$mode" = reuse ] && flags=(-d)
  t0=$(now); run_source 47027 "${flags[@]}"
  read -r stored t1 < <(wait_stored "$work/postfix/vmail")
  bench/support/postfix_peer.sh stop "$work/postfix"
  echo "| postfix → Maildir (durable) | $mode | $N | $(python3 -c "print(f'{$t1-$t0:.2f}')") | $(rate "$N" "$t0" "$t1") | $stored | $(cut -d' ' -f1 /proc/loadavg) |"
  sleep 1
done
for mode in conn reuse; do
  rm -rf "$work/aiomaildir"
  target/bench-venv/bin/python -m aiosmtpd -n -l 127.0.0.1:47026 -c aiosmtpd.handlers.Mailbox "$work/aiomaildir" 2>/dev/null &
  aio=$!
  sleep 1
  flags=(); [ "$mode" = reuse ] && flags=(-d)
  t0=$(now); run_source 47026 "${flags[@]}"
  read -r stored t1 < <(wait_stored "$work/aiomaildir")
  kill $aio; wait $aio 2>/dev/null || true
  echo "| aiosmtpd Mailbox (durable) | $mode | $N | $(python3 -c "print(f'{$t1-$t0:.2f}')") | $(rate "$N" "$t0" "$t1") | $stored | $(cut -d' ' -f1 /proc/loadavg) |"
done

# (c) Switchboard.
token=$($bin token create --config "$work/config.toml" --agent admin 2>/dev/null)
for mode in conn reuse; do
  rm -rf "$work/data"; mkdir -p "$work/data"
  token=$($bin token create --config "$work/config.toml" --agent admin 2>/dev/null)
  RUST_LOG=switchboard=info,warn $bin serve --config "$work/config.toml" > "$work/ready" 2> "$work/daemon.log" &
  pid=$!
  for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
  smtp_port=$(sed -n 's/.*smtp=127.0.0.1:\([0-9]*\).*/\1/p' "$work/ready")
  http_port=$(sed -n 's/.*http=127.0.0.1:\([0-9]*\).*/\1/p' "$work/ready")
  sleep 0.5
  idle=$(rss_kb $pid)
  flags=(); [ "$mode" = reuse ] && flags=(-d)
  t0=$(now); run_source "$smtp_port" "${flags[@]}"; t1=$(now)
  loaded=$(rss_kb $pid)
  stored=$(python3 - "$http_port" "$token" <<'PY'
import json, sys, urllib.request
port, token = sys.argv[1], sys.argv[2]
count, cursor = 0, None
while True:
    url = f"http://127.0.0.1:{port}/api/v1/conversations?limit=100" + (f"&cursor={cursor}" if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    body = json.load(urllib.request.urlopen(req))
    count += sum(c["message_count"] for c in body["conversations"])
    cursor = body["next_cursor"]
    if not cursor:
        break
print(count)
PY
)
  kill -TERM $pid; wait $pid || true
  flushes=$(sed -n 's/.*flushes=\([0-9]*\).*/\1/p' "$work/daemon.log" | tail -1)
  secs=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  echo "| switchboard (durable) | $mode | $N | $secs | $(rate "$N" "$t0" "$t1") | $stored | $(cut -d' ' -f1 /proc/loadavg) |"
  echo "  switchboard $mode: flushes=$flushes ($(python3 -c "print(f'{$flushes/($t1-$t0):.0f}')")/s, $(python3 -c "print(f'{$N/max($flushes,1):.1f}')") messages per flush), RSS idle=${idle} KB loaded=${loaded} KB" >&2
done
