#!/usr/bin/env python3
"""A Telegram bot bridge for a Switchboard custom channel (Python standard
library only). See docs/custom-channels.md.

One HTTP port, two routes:

  POST /telegram     Telegram's webhook (setWebhook url=.../telegram with a
                     secret_token). Each Update with a message is published to
                     Switchboard: POST {switchboard}/api/v1/channels/{channel}/messages
                     with the channel's inbound token, idempotency_key
                     "tg-update-<update_id>" (Telegram's retries store once),
                     the sender, the chat as thread_id for group chats, the
                     text or caption, photos and documents as attachments.
  POST /switchboard  Switchboard's webhook (the channel's webhook_url). The
                     Standard Webhooks signature is verified, then the reply is
                     sent with Telegram's sendMessage, and Switchboard is told
                     it was delivered (PATCH .../messages/{id}).
  GET  /healthz      "ok".

Secrets come from the environment, never from the command line:
  TELEGRAM_BOT_TOKEN          the bot's token from @BotFather
  TELEGRAM_SECRET_TOKEN       the secret_token given to setWebhook (optional;
                              when set, updates without it are refused)
  SWITCHBOARD_INBOUND_TOKEN   the channel's inbound token
  SWITCHBOARD_WEBHOOK_SECRET  the channel's whsec_... webhook secret

Try `python3 telegram_bridge.py --self-test` to check the signature
verifier against the Standard Webhooks reference vector.
"""

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger("telegram_bridge")

# Standard Webhooks: reject timestamps further than this from now.
TOLERANCE_SECONDS = 5 * 60
# Switchboard takes attachments up to 10 MiB each.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_BODY_BYTES = 1024 * 1024
HTTP_TIMEOUT = 15


class BadSignature(Exception):
    pass


def verify_signature(secret, headers, body, now=None):
    """Verifies a Standard Webhooks request: `webhook-id`,
    `webhook-timestamp` within five minutes, and a `v1,` entry of
    `webhook-signature` equal to base64(HMAC-SHA256(key, id.timestamp.body))
    where key is the base64-decoded part of the secret after `whsec_`."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise BadSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        seconds = int(timestamp)
    except ValueError:
        raise BadSignature("webhook-timestamp is not a number")
    now = time.time() if now is None else now
    if abs(now - seconds) > TOLERANCE_SECONDS:
        raise BadSignature("webhook-timestamp is too old or too new")
    encoded = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return
    raise BadSignature("no signature matches")


def self_test():
    """The reference vector published with the Standard Webhooks libraries."""
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    verify_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, body, now=1614265330)
    for bad_body in (b'{"test": 2432232315}',):
        try:
            verify_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, bad_body, now=1614265330)
        except BadSignature:
            continue
        raise AssertionError("a changed body was accepted")
    try:
        verify_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, body, now=1614265330 + 301)
    except BadSignature:
        pass
    else:
        raise AssertionError("a stale timestamp was accepted")
    print("self-test ok: the Standard Webhooks reference vector verifies")


def http_json(method, url, payload=None, token=None, timeout=HTTP_TIMEOUT):
    """Sends JSON; returns (status, parsed body or None, headers)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, parse_json(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, parse_json(error.read()), error.headers


def parse_json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


class Bridge:
    def __init__(self, args, env):
        self.switchboard = args.switchboard_url.rstrip("/")
        self.channel = args.channel
        self.telegram = args.telegram_api.rstrip("/")
        self.bot_token = env["TELEGRAM_BOT_TOKEN"]
        self.telegram_secret = env.get("TELEGRAM_SECRET_TOKEN") or None
        self.inbound_token = env["SWITCHBOARD_INBOUND_TOKEN"]
        self.webhook_secret = env["SWITCHBOARD_WEBHOOK_SECRET"]
        # webhook-id -> Telegram message id: Switchboard delivers at least
        # once, so a retry of a reply already sent is answered, not resent.
        self.sent = OrderedDict()
        self.sent_lock = threading.Lock()

    # Telegram -> Switchboard

    def publish_update(self, update):
        """Returns the HTTP status to answer Telegram with."""
        message = update.get("message")
        if not isinstance(message, dict) or "update_id" not in update:
            return 200  # edits, callbacks, member updates: not messages
        sender = message.get("from") or {}
        if sender.get("is_bot"):
            return 200
        chat = message.get("chat") or {}
        name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p)
        body = {
            "idempotency_key": "tg-update-%s" % update["update_id"],
            "sender": {"id": str(sender.get("id", chat.get("id")))},
            "text": message.get("text") or message.get("caption") or "",
            "attachments": self.attachments(message),
        }
        if name or sender.get("username"):
            body["sender"]["name"] = name or sender["username"]
        if chat.get("type") != "private" and "id" in chat:
            # A group is one conversation, whoever writes in it.
            body["thread_id"] = str(chat["id"])
        if isinstance(message.get("date"), int):
            body["timestamp"] = message["date"]
        if not body["text"] and not body["attachments"]:
            kind = next((k for k in ("sticker", "location", "contact", "poll") if k in message), "message")
            body["text"] = "[%s]" % kind
        url = "%s/api/v1/channels/%s/messages" % (self.switchboard, self.channel)
        try:
            status, answer, _ = http_json("POST", url, body, token=self.inbound_token)
        except OSError as error:
            LOG.warning("switchboard unreachable: %s", error)
            return 502  # Telegram retries; the idempotency key dedupes
        if status >= 500:
            return 502
        if status >= 400:
            LOG.error("switchboard refused update %s: %s %s", update["update_id"], status, answer)
            return 200  # retrying cannot help
        LOG.info("update %s stored (duplicate: %s)", update["update_id"], (answer or {}).get("duplicate"))
        return 200

    def attachments(self, message):
        files = []
        if message.get("photo"):
            largest = message["photo"][-1]
            files.append((largest, "photo.jpg", "image/jpeg"))
        for kind, default_type in (("document", "application/octet-stream"), ("voice", "audio/ogg"),
                                   ("audio", "audio/mpeg"), ("video", "video/mp4")):
            item = message.get(kind)
            if isinstance(item, dict):
                files.append((item, item.get("file_name") or kind, item.get("mime_type") or default_type))
        out = []
        for item, name, content_type in files:
            if item.get("file_size", 0) > MAX_ATTACHMENT_BYTES:
                LOG.warning("skipping %s: larger than %d bytes", name, MAX_ATTACHMENT_BYTES)
                continue
            data = self.download(item.get("file_id"))
            if data is not None:
                out.append({"name": name, "content_type": content_type,
                            "data_base64": base64.b64encode(data).decode()})
        return out

    def download(self, file_id):
        """getFile, then the file itself (its URL carries the bot token, so
        the bridge fetches it rather than handing Switchboard a URL)."""
        if not file_id:
            return None
        status, answer, _ = http_json("POST", "%s/bot%s/getFile" % (self.telegram, self.bot_token),
                                      {"file_id": file_id})
        path = ((answer or {}).get("result") or {}).get("file_path")
        if status != 200 or not path:
            LOG.warning("getFile failed: %s", status)
            return None
        url = "%s/file/bot%s/%s" % (self.telegram, self.bot_token, path)
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            return response.read(MAX_ATTACHMENT_BYTES + 1)[:MAX_ATTACHMENT_BYTES]

    # Switchboard -> Telegram

    def deliver(self, msg_id, payload):
        """Returns (status, body, extra headers) to answer Switchboard with."""
        with self.sent_lock:
            if msg_id in self.sent:
                return 200, {"id": self.sent[msg_id]}, {}
        if payload.get("type") != "message.created":
            return 200, {}, {}
        chat_id = payload.get("thread_id") or payload["recipient"]["id"]
        url = "%s/bot%s/sendMessage" % (self.telegram, self.bot_token)
        try:
            status, answer, _ = http_json("POST", url, {"chat_id": chat_id, "text": payload["message"]["text"]})
        except OSError as error:
            return 502, {"error": "telegram unreachable: %s" % error}, {}
        answer = answer or {}
        if status == 200 and answer.get("ok"):
            telegram_id = str(answer["result"]["message_id"])
            with self.sent_lock:
                self.sent[msg_id] = telegram_id
                while len(self.sent) > 10000:
                    self.sent.popitem(last=False)
            threading.Thread(target=self.report, args=(payload["message"]["id"], "delivered"),
                             daemon=True).start()
            return 200, {"id": telegram_id}, {}
        description = answer.get("description") or "Telegram answered %d" % status
        if status == 429:
            after = str((answer.get("parameters") or {}).get("retry_after", 5))
            return 429, {"error": description}, {"Retry-After": after}
        if status >= 500:
            return 502, {"error": description}, {}
        # Blocked by the user, chat not found...: Switchboard marks the
        # message failed with this text (422, not 403: the channel is fine).
        return 422, {"error": description}, {}

    def report(self, message_id, status, error=None):
        url = "%s/api/v1/channels/%s/messages/%s" % (self.switchboard, self.channel, message_id)
        body = {"status": status}
        if error:
            body["error"] = error
        try:
            code, answer, _ = http_json("PATCH", url, body, token=self.inbound_token)
            LOG.info("reported %s for %s: %s %s", status, message_id, code, (answer or {}).get("applied"))
        except OSError as error:
            LOG.warning("cannot report %s for %s: %s", status, message_id, error)


def make_handler(bridge):
    class Handler(BaseHTTPRequestHandler):
        server_version = "telegram-bridge/1"

        def log_message(self, format, *args):
            LOG.debug("%s " + format, self.address_string(), *args)

        def answer(self, status, body=None, headers=None):
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return None
            return self.rfile.read(length)

        def do_GET(self):
            if self.path == "/healthz":
                self.answer(200, {"status": "ok"})
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self):
            raw = self.body()
            if raw is None:
                return self.answer(413, {"error": "too large"})
            if self.path == "/telegram":
                given = self.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
                if bridge.telegram_secret and not hmac.compare_digest(given, bridge.telegram_secret):
                    return self.answer(401, {"error": "bad secret token"})
                update = parse_json(raw)
                if not isinstance(update, dict):
                    return self.answer(400, {"error": "not a JSON update"})
                return self.answer(bridge.publish_update(update))
            if self.path == "/switchboard":
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify_signature(bridge.webhook_secret, headers, raw)
                except BadSignature as error:
                    LOG.warning("refused a webhook: %s", error)
                    return self.answer(401, {"error": str(error)})
                payload = parse_json(raw)
                if not isinstance(payload, dict):
                    return self.answer(400, {"error": "not JSON"})
                status, body, extra = bridge.deliver(headers["webhook-id"], payload)
                return self.answer(status, body, extra)
            self.answer(404, {"error": "not found"})

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Bridge a Telegram bot to a Switchboard custom channel.",
        epilog="Secrets are read from TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN (optional), "
               "SWITCHBOARD_INBOUND_TOKEN and SWITCHBOARD_WEBHOOK_SECRET.")
    parser.add_argument("--listen", default=os.environ.get("BRIDGE_LISTEN", "127.0.0.1:8090"),
                        help="address:port for /telegram and /switchboard (default %(default)s)")
    parser.add_argument("--switchboard-url", default=os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8080"),
                        help="Switchboard's base URL (default %(default)s)")
    parser.add_argument("--channel", default=os.environ.get("SWITCHBOARD_CHANNEL", "telegram"),
                        help="the custom channel's id (default %(default)s)")
    parser.add_argument("--telegram-api", default=os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org"),
                        help="the Bot API base URL, e.g. a fake for tests (default %(default)s)")
    parser.add_argument("--self-test", action="store_true",
                        help="check the signature verifier against the reference vector and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    if args.self_test:
        self_test()
        return 0
    missing = [name for name in ("TELEGRAM_BOT_TOKEN", "SWITCHBOARD_INBOUND_TOKEN", "SWITCHBOARD_WEBHOOK_SECRET")
               if not os.environ.get(name)]
    if missing:
        parser.error("set " + ", ".join(missing))
    host, _, port = args.listen.rpartition(":")
    bridge = Bridge(args, os.environ)
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), make_handler(bridge))
    print("telegram bridge listening on http://%s:%d" % server.server_address[:2], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
