#!/usr/bin/env python3
"""Compares what Switchboard stored for each corpus mail with what Python's
`email` package (policy `default`) finds in it.

Usage: compare.py RESULTS.json CORPUS_DIR

RESULTS.json is written by tests/mail_corpus.rs: a list of
{"file", "code", "reply", "subject", "from", "text", "envelope_from"}, one per
.eml file, with the SMTP reply to the end of DATA and the message the daemon
stored (its `subject`, `from` {name, address} and `text`; null when nothing
was stored). The rules are in README.md next to this script. Prints one line
per file and a last line `mail corpus: N passed, M failed`; exits 1 on any
failure. Standard library only (Python 3.11).
"""

import email
import email.policy
import html.parser
import json
import re
import sys
from pathlib import Path

# A `5xx` reply with an enhanced status code and a reason after it.
REFUSAL = re.compile(r"^5\.\d{1,3}\.\d{1,3}\s+\S")
# What the daemon stores as the sender handle when it knows no address.
UNKNOWN_SENDER = "unknown"

ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
MAILBOX = re.compile(rf"^{ATEXT}+(?:\.{ATEXT}+)*@{LABEL}(?:\.{LABEL})*$")


def collapse(value):
    """Whitespace runs (any Unicode whitespace) to one space, stripped; None
    for None or a value that is only whitespace."""
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def first_line(text):
    """The first non-blank line of `text`, whitespace-collapsed."""
    if text is None:
        return None
    for line in str(text).splitlines():
        line = collapse(line)
        if line:
            return line
    return None


class _HtmlText(html.parser.HTMLParser):
    """A simple tag strip: text outside head/style/script/title/template, a
    line break at block-level tags and <br>, entities decoded."""

    BLOCK = {
        "address", "article", "blockquote", "br", "dd", "div", "dl", "dt",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
    HIDDEN = {"head", "style", "script", "title", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup):
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def part_text(part, notes):
    """A text part's decoded content; for a charset Python does not know
    (LookupError) the bytes read as ASCII with replacement characters (the
    corpus keeps such bodies ASCII)."""
    try:
        return part.get_content()
    except LookupError as error:
        notes.append(f"unknown charset ({error}): read as ASCII")
        return part.get_payload(decode=True).decode("ascii", errors="replace")


def expected_text(msg, notes):
    body = msg.get_body(preferencelist=("plain",))
    if body is not None:
        return first_line(part_text(body, notes))
    body = msg.get_body(preferencelist=("html",))
    if body is not None:
        notes.append("no text/plain body: html tag-stripped")
        return first_line(html_to_text(part_text(body, notes)))
    return None


def plain_mailbox(address):
    username, domain = address.username, address.domain
    return bool(username) and bool(domain) and not any(c in username for c in ' "')


def first_valid_token(raw):
    for token in re.split(r"[\s,]+", raw):
        token = token.strip("<>")
        if MAILBOX.match(token):
            return token.lower()
    return None


def raw_header(msg, name):
    for key, value in msg.raw_items():
        if key.lower() == name:
            return value
    return ""


def expected_sender(msg, notes):
    """The first address of From, else of Sender (see README.md for the rule
    applied to defective headers)."""
    for name in ("from", "sender"):
        header = msg[name]
        if header is None:
            continue
        addresses = header.addresses
        first = addresses[0] if addresses else None
        if header.defects and (first is None or not plain_mailbox(first)):
            found = first_valid_token(raw_header(msg, name))
            notes.append(
                f"{name}: defective header, Python's first address "
                f"{first.addr_spec if first else None!r}: first valid mailbox "
                f"token {found!r} used"
            )
        elif first is not None and first.username and first.domain:
            found = first.addr_spec.lower()
        else:
            found = None
        if found:
            return found
    return None


def expected(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    notes = []
    subject = msg["subject"]
    return {
        "subject": collapse(subject) if subject is not None else None,
        "from": expected_sender(msg, notes),
        "text": expected_text(msg, notes),
    }, notes


def stored(result):
    """The daemon's values, under the same normalisation."""
    sender = (result.get("from") or {}).get("address")
    notes = []
    if sender is not None:
        sender = sender.lower()
        if sender == UNKNOWN_SENDER:
            sender = None
        elif sender == (result.get("envelope_from") or "").lower():
            # The documented fallback when the headers give no address; the
            # envelope address appears in no corpus header.
            notes.append(f"daemon used the envelope sender {sender!r}")
            sender = None
    return {
        "subject": collapse(result.get("subject")),
        "from": sender,
        "text": first_line(result.get("text")),
    }, notes


def check(name, raw, result):
    """(passed, lines to print)."""
    code, reply = result.get("code"), result.get("reply") or ""
    if name.startswith("refused-"):
        ok = isinstance(code, int) and 500 <= code < 600 and bool(REFUSAL.match(reply))
        verdict = "OK" if ok else "MISMATCH"
        detail = f"refused: {code} {reply}" if ok else f"expected a 5xx with x.y.z and a reason, got {code} {reply}"
        return ok, [f"{verdict} {name}: {detail}"]
    if code != 250:
        return False, [f"MISMATCH {name}: expected 250, got {code} {reply}"]
    try:
        want, notes = expected(raw)
    except Exception as error:  # a Python email bug is a corpus problem
        return False, [f"MISMATCH {name}: Python's email package failed: {error!r}"]
    have, daemon_notes = stored(result)
    lines = [f"    note: {note}" for note in notes + daemon_notes]
    wrong = [key for key in ("subject", "from", "text") if want[key] != have[key]]
    if not wrong:
        return True, [f"OK {name}"] + lines
    out = [f"MISMATCH {name}:"]
    for key in wrong:
        out.append(f"    {key}: daemon {have[key]!r} != python {want[key]!r}")
    return False, out + lines


def main(argv):
    if len(argv) != 3:
        print("usage: compare.py RESULTS.json CORPUS_DIR", file=sys.stderr)
        return 2
    results = {r["file"]: r for r in json.loads(Path(argv[1]).read_text())}
    files = sorted(Path(argv[2]).glob("*.eml"))
    passed = failed = 0
    for path in files:
        result = results.get(path.name)
        if result is None:
            ok, lines = False, [f"MISMATCH {path.name}: no result from the daemon"]
        else:
            ok, lines = check(path.name, path.read_bytes(), result)
        print("\n".join(lines))
        if ok:
            passed += 1
        else:
            failed += 1
    for extra in sorted(set(results) - {p.name for p in files}):
        print(f"MISMATCH {extra}: a result for a file not in the corpus")
        failed += 1
    print(f"mail corpus: {passed} passed, {failed} failed")
    return 1 if failed or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
