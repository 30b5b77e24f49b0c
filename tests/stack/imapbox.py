#!/usr/bin/env python3
"""IMAP helper for tickd's real-server tests (python3 stdlib only).

Reads IMAP_HOST, IMAP_PORT and MAIL_PASSWORD from the environment (source the
stack's DIR/env first); with only STACK_DIR set, it reads STACK_DIR/env itself.

CLI:
  imapbox.py count USER [MAILBOX]                  number of messages (default INBOX)
  imapbox.py wait-count USER MAILBOX N [SECS]      wait until MAILBOX holds >= N messages, print count
  imapbox.py list USER                             mailbox names, one per line
  imapbox.py append USER MAILBOX FILE              append the raw mail in FILE ('-' = stdin)
  imapbox.py fetch USER [MAILBOX] [--raw]          all messages: a JSON list of
        {"uid", "flags", "internaldate", "size", "raw", "raw_base64"} (raw = text with
        undecodable bytes replaced; raw_base64 = the exact bytes), or with --raw the
        messages themselves, each after a line "==== imapbox message uid=N size=N ===="
  imapbox.py create-mailbox USER MAILBOX
  imapbox.py delete-mailbox USER MAILBOX
  imapbox.py expunge-all USER [MAILBOX]            delete every message in MAILBOX

As a module:  import imapbox; imapbox.count("support"); imapbox.fetch("support", "Sent") ...
"""
import base64
import imaplib
import json
import os
import re
import sys
import time

DEFAULT_TIMEOUT = 30


def _env():
    host = os.environ.get("IMAP_HOST")
    port = os.environ.get("IMAP_PORT")
    password = os.environ.get("MAIL_PASSWORD")
    if not port and os.environ.get("STACK_DIR"):
        vals = {}
        with open(os.path.join(os.environ["STACK_DIR"], "env")) as f:
            for line in f:
                m = re.match(r"(?:export\s+)?(\w+)=['\"]?(.*?)['\"]?\s*$", line)
                if m:
                    vals[m.group(1)] = m.group(2)
        host = host or vals.get("IMAP_HOST")
        port = vals.get("IMAP_PORT")
        password = password or vals.get("MAIL_PASSWORD")
    if not port:
        raise SystemExit("imapbox: IMAP_PORT not set (source the stack's env file)")
    return host or "127.0.0.1", int(port), password or "pw"


def quote(name):
    """Mailbox name as an IMAP quoted string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def connect(user):
    host, port, password = _env()
    m = imaplib.IMAP4(host, port, timeout=DEFAULT_TIMEOUT)
    m.login(user, password)
    return m


def _check(resp, what):
    typ, data = resp
    if typ != "OK":
        raise RuntimeError("imapbox: %s failed: %s %r" % (what, typ, data))
    return data


def _logout(m):
    try:
        m.logout()
    except Exception:
        pass


def count(user, mailbox="INBOX"):
    m = connect(user)
    try:
        data = _check(m.status(quote(mailbox), "(MESSAGES)"), "STATUS " + mailbox)
        mm = re.search(rb"MESSAGES (\d+)", data[0])
        return int(mm.group(1))
    finally:
        _logout(m)


def wait_count(user, mailbox, n, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = count(user, mailbox)
        except RuntimeError:
            c = -1  # mailbox does not exist (yet)
        if c >= n or time.monotonic() >= deadline:
            return c
        time.sleep(0.1)


def list_mailboxes(user):
    m = connect(user)
    try:
        out = []
        for line in _check(m.list(), "LIST"):
            if not line:
                continue
            if isinstance(line, tuple):  # name sent as a literal
                out.append(line[1].decode("utf-8", "replace"))
                continue
            mm = re.match(rb'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', line)
            name = mm.group(3) if mm else line
            if name.startswith(b'"') and name.endswith(b'"'):
                name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
            out.append(name.decode("utf-8", "replace"))
        return out
    finally:
        _logout(m)


def append(user, mailbox, data, flags="", date_time=None):
    if isinstance(data, str):
        data = data.encode("utf-8")
    # IMAP wants CRLF line ends
    data = re.sub(rb"\r?\n", b"\r\n", data)
    m = connect(user)
    try:
        _check(m.append(quote(mailbox), flags or None,
                        imaplib.Time2Internaldate(date_time or time.time()), data),
               "APPEND " + mailbox)
    finally:
        _logout(m)


def fetch(user, mailbox="INBOX"):
    """All messages of MAILBOX as dicts: uid, flags, internaldate, size, raw (bytes)."""
    m = connect(user)
    try:
        data = _check(m.select(quote(mailbox), readonly=True), "SELECT " + mailbox)
        if int(data[0] or 0) == 0:
            return []
        data = _check(m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])"), "FETCH")
        out = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, raw = item[0], item[1]
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            fl = re.search(rb"FLAGS \(([^)]*)\)", meta)
            idate = re.search(rb'INTERNALDATE "([^"]*)"', meta)
            out.append({
                "uid": uid,
                "flags": fl.group(1).decode().split() if fl else [],
                "internaldate": idate.group(1).decode() if idate else None,
                "size": len(raw),
                "raw": raw,
            })
        out.sort(key=lambda d: d["uid"])
        return out
    finally:
        _logout(m)


def create_mailbox(user, mailbox):
    m = connect(user)
    try:
        _check(m.create(quote(mailbox)), "CREATE " + mailbox)
        m.subscribe(quote(mailbox))
    finally:
        _logout(m)


def delete_mailbox(user, mailbox):
    m = connect(user)
    try:
        _check(m.delete(quote(mailbox)), "DELETE " + mailbox)
    finally:
        _logout(m)


def expunge_all(user, mailbox="INBOX"):
    m = connect(user)
    try:
        data = _check(m.select(quote(mailbox)), "SELECT " + mailbox)
        if int(data[0] or 0):
            _check(m.store("1:*", "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
            _check(m.expunge(), "EXPUNGE")
    finally:
        _logout(m)


def main(argv):
    args = [a for a in argv[1:] if a != "--raw"]
    raw_out = "--raw" in argv[1:]
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    try:
        if cmd == "count" and len(rest) in (1, 2):
            print(count(*rest))
        elif cmd == "wait-count" and len(rest) in (3, 4):
            n = int(rest[2])
            c = wait_count(rest[0], rest[1], n, float(rest[3]) if len(rest) > 3 else 30.0)
            print(c)
            return 0 if c >= n else 1
        elif cmd == "list" and len(rest) == 1:
            for name in list_mailboxes(rest[0]):
                print(name)
        elif cmd == "append" and len(rest) == 3:
            if rest[2] == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(rest[2], "rb") as f:
                    data = f.read()
            append(rest[0], rest[1], data)
        elif cmd == "fetch" and len(rest) in (1, 2):
            msgs = fetch(*rest)
            if raw_out:
                outb = sys.stdout.buffer
                for d in msgs:
                    outb.write(b"==== imapbox message uid=%d size=%d ====\n" % (d["uid"], d["size"]))
                    outb.write(d["raw"])
                    if not d["raw"].endswith(b"\n"):
                        outb.write(b"\n")
                outb.flush()
            else:
                for d in msgs:
                    d["raw_base64"] = base64.b64encode(d["raw"]).decode()
                    d["raw"] = d["raw"].decode("utf-8", "replace")
                json.dump(msgs, sys.stdout, indent=1)
                sys.stdout.write("\n")
        elif cmd == "create-mailbox" and len(rest) == 2:
            create_mailbox(*rest)
        elif cmd == "delete-mailbox" and len(rest) == 2:
            delete_mailbox(*rest)
        elif cmd == "expunge-all" and len(rest) in (1, 2):
            expunge_all(*rest)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (RuntimeError, imaplib.IMAP4.error, OSError) as e:
        print("imapbox: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
