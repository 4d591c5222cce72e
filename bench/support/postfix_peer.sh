#!/usr/bin/env bash
# Sets up and starts a second, private Postfix instance that accepts mail for
# example.com on 127.0.0.1:$2 and delivers it durably into a Maildir under
# $1/vmail (queue file fsync'd before 250, then Maildir delivery by
# `virtual`). Nothing in /etc/postfix is changed. Stop it with
# `bench/support/postfix_peer.sh stop DIR`.
#
# Usage: postfix_peer.sh start DIR PORT | stop DIR
set -euo pipefail
action=$1
P=$(realpath -m "$2")
if [ "$action" = stop ]; then
  if [ -f "$P/queue/pid/master.pid" ]; then
    kill "$(tr -d ' ' < "$P/queue/pid/master.pid")" 2>/dev/null || true
  fi
  exit 0
fi
port=$3
mkdir -p "$P"/{etc,queue,data,vmail}
# Postfix's unprivileged processes must reach DIR (mktemp -d makes it 0700).
chmod o+x "$(dirname "$P")" "$P"
chown postfix "$P/data"
chown 65534:65534 "$P/vmail"
cat > "$P/etc/main.cf" <<CF
compatibility_level = 3.6
config_directory = $P/etc
queue_directory = $P/queue
data_directory = $P/data
mail_owner = postfix
setgid_group = postdrop
myhostname = peer-postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.com
virtual_mailbox_base = $P/vmail
virtual_mailbox_maps = static:b/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
maillog_file = $P/maillog
maillog_file_prefixes = /var, /dev/stdout, $P
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
local_recipient_maps =
default_process_limit = 200
CF
# The stock services, chroot off, the smtp listener on our port.
cat > "$P/etc/master.cf" <<CF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CF
# postfix prints its errors only to a terminal.
script -qc "postfix -c $P/etc start" /dev/null >/dev/null
for _ in $(seq 100); do
  ss -ltn | grep -q "127.0.0.1:$port " && exit 0
  sleep 0.1
done
echo "postfix peer did not start; see $P/maillog" >&2
exit 1
