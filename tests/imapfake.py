#!/usr/bin/env python3
"""imapfake.py - a scripted, hostile IMAP server for the tests of src/imap.c.

    python3 tests/imapfake.py [--port N] [--caps "..."] [--log FILE] SCENARIO

Listens on 127.0.0.1 (port 0 = any free one), prints "PORT <n>" on stdout
once it accepts connections, and serves every connection with SCENARIO until
it is killed.  Plaintext only, any user and password log in (scenario
"noauth" refuses them).  Python 3 standard library only.

The mailbox INBOX holds three messages (UIDVALIDITY 42, UIDs 1-3); message 1
carries "A004 OK fake" and "* 99 EXISTS" lines, message 2 a 30,000-byte
line, message 3 (one line) quotes, a backslash and braces.  Scenarios change how the server answers
the body FETCH (the one with "BODY" in it) or IDLE:

  plain        every body as one literal, nothing else (for libcurl's
               own per-UID FETCH, which fails on an unsolicited FETCH)
  normal       items in odd orders, FLAGS-only FETCHes, unsolicited EXISTS,
               RECENT and EXPUNGE between them, message 3 as a quoted string
  stall        announces a 100-byte literal, sends 10 bytes, then nothing
  stall-line   sends half a FETCH line, then nothing
  trickle      sends the literal one byte every 0.3 s, forever
  biglit       RFC822.SIZE says small, then BODY[] {104857600} and zeros
  bigsize      RFC822.SIZE says 104857600 (an honest oversized message)
  garbage      1 MiB of random bytes without a line end
  junk         syntactically broken FETCH responses
  longline     an endless line of "x" without CRLF
  flood        endless "* 1 EXISTS" lines, never the tagged reply
  bye          "* BYE" in the middle of the FETCH reply, then close
  eof          closes the connection in the middle of a literal
  outoforder   bodies in descending UID order
  bigsearch    SEARCH answers 200,000 UIDs (1.4 MB) for 3 messages
  noauth       every login is refused
  nogreet      accepts connections and never greets
  idle-push    in IDLE, "* 4 EXISTS" 300 ms after "+ idling"
  idle-bye     in IDLE, "* BYE" 300 ms after "+ idling"
  idle-literal in IDLE, an untagged response with a literal

--caps replaces the capability list (default "IMAP4rev1 SASL-IR IDLE MOVE
UIDPLUS AUTH=PLAIN"), so "no MOVE" or "no IDLE" servers can be played.
--log appends every command received (tag removed, AUTHENTICATE arguments
dropped) to FILE, one per line, for the tests to inspect.
"""

import argparse
import os
import random
import socket
import socketserver
import sys
import threading
import time

UIDVALIDITY = 42
MESSAGES = {
    1: (b"From: a@example.com\r\nSubject: one\r\n\r\nhello\r\n"
        b"A004 OK fake\r\n* 99 EXISTS\r\n)\r\n"),
    2: (b"From: b@example.com\r\nSubject: two\r\n\r\n" + b"y" * 30000 +
        b"\r\n"),
    # no CR/LF: scenario "normal" sends it as a quoted string
    3: b'X-Three: "quoted" \\ and {5} braces',
}
BIG = 100 * 1024 * 1024


def parse_set(spec, maxuid):
    """UIDs of an IMAP sequence set, limited to the ones that exist."""
    out = set()
    for part in spec.split(","):
        lo, _, hi = part.partition(":")
        lo = maxuid if lo == "*" else int(lo)
        hi = lo if not hi else (maxuid if hi == "*" else int(hi))
        if lo > hi:
            lo, hi = hi, lo
        out.update(u for u in range(lo, hi + 1) if u in MESSAGES)
    return sorted(out)


def quoted(data):
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Session(socketserver.StreamRequestHandler):
    scenario = "normal"
    caps = "IMAP4rev1 SASL-IR IDLE MOVE UIDPLUS AUTH=PLAIN"
    logfile = None
    lock = threading.Lock()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(data)
        self.wfile.flush()

    def line(self, text):
        self.send(text + "\r\n")

    def log(self, cmd):
        if not self.logfile:
            return
        with self.lock, open(self.logfile, "a") as f:
            f.write(cmd + "\n")

    def hang(self):
        """Keep the connection open and silent until the client leaves."""
        self.request.settimeout(None)
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass
        raise ConnectionAbortedError

    def handle(self):
        try:
            self.serve()
        except (ConnectionError, BrokenPipeError, OSError):
            pass

    def serve(self):
        if self.scenario == "nogreet":
            self.hang()
        self.line("* OK [CAPABILITY %s] imapfake ready" % self.caps)
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            text = raw.decode("latin-1").rstrip("\r\n")
            tag, _, rest = text.partition(" ")
            cmd, _, args = rest.partition(" ")
            cmd = cmd.upper()
            if cmd == "UID":
                sub, _, args = args.partition(" ")
                cmd = "UID " + sub.upper()
            self.log(cmd if cmd in ("AUTHENTICATE", "LOGIN") else
                     cmd + (" " + args if args else ""))
            handler = getattr(self, "cmd_" + cmd.replace(" ", "_"), None)
            if handler is None:
                self.line("%s BAD unknown command" % tag)
            elif handler(tag, args) == "close":
                return

    # --- commands ---

    def cmd_CAPABILITY(self, tag, args):
        self.line("* CAPABILITY " + self.caps)
        self.line(tag + " OK done")

    def login_result(self, tag):
        if self.scenario == "noauth":
            self.line(tag + " NO [AUTHENTICATIONFAILED] go away")
        else:
            self.line("%s OK [CAPABILITY %s] logged in" % (tag, self.caps))

    def cmd_AUTHENTICATE(self, tag, args):
        if len(args.split()) < 2:  # no SASL-IR: ask for the response
            self.line("+ ")
            self.rfile.readline(65536)
        self.login_result(tag)

    def cmd_LOGIN(self, tag, args):
        self.login_result(tag)

    def cmd_LOGOUT(self, tag, args):
        self.line("* BYE imapfake logging out")
        self.line(tag + " OK bye")
        return "close"

    def cmd_NOOP(self, tag, args):
        self.line(tag + " OK noop")

    def cmd_SELECT(self, tag, args):
        self.line("* FLAGS (\\Seen \\Deleted)")
        self.line("* %d EXISTS" % len(MESSAGES))
        self.line("* 0 RECENT")
        self.line("* OK [UIDVALIDITY %d] ok" % UIDVALIDITY)
        self.line("* OK [UIDNEXT %d] ok {5}" % (len(MESSAGES) + 1))
        self.line(tag + " OK [READ-WRITE] selected")

    cmd_EXAMINE = cmd_SELECT

    def cmd_STATUS(self, tag, args):
        name = args.split(" (")[0]
        self.line("* STATUS %s (MESSAGES %d UIDNEXT %d UIDVALIDITY %d)" %
                  (name, len(MESSAGES), len(MESSAGES) + 1, UIDVALIDITY))
        self.line(tag + " OK status")

    def cmd_UID_SEARCH(self, tag, args):
        if self.scenario == "bigsearch":  # ~1.4 MB in one line
            self.line("* SEARCH " + " ".join(str(u) for u in
                                             range(1, 200001)))
        else:
            self.line("* SEARCH " + " ".join(str(u) for u in MESSAGES))
        self.line(tag + " OK search")

    def cmd_UID_STORE(self, tag, args):
        self.line(tag + " OK store")

    def cmd_UID_COPY(self, tag, args):
        self.line(tag + " OK [COPYUID 7 1:3 1:3] copy")

    def cmd_UID_MOVE(self, tag, args):
        self.line(tag + " OK move")

    def cmd_UID_EXPUNGE(self, tag, args):
        self.line(tag + " OK expunge")

    def cmd_EXPUNGE(self, tag, args):
        self.line(tag + " OK expunge")

    def cmd_IDLE(self, tag, args):
        self.line("+ idling")
        if self.scenario in ("idle-push", "idle-bye", "idle-literal"):
            time.sleep(0.3)
            if self.scenario == "idle-push":
                self.line("* 4 EXISTS")
            elif self.scenario == "idle-bye":
                self.line("* BYE server shutting down")
                return "close"
            else:
                self.send("* 1 FETCH (FLAGS () X-EXTRA {5}\r\nhello)\r\n")
        done = self.rfile.readline(65536)
        self.log(done.decode("latin-1").strip())
        self.line(tag + " OK idle done")

    def cmd_UID_FETCH(self, tag, args):
        spec, _, items = args.partition(" ")
        uids = parse_set(spec, max(MESSAGES))
        items = items.upper()
        if "BODY" not in items:  # sizes / flags: no literal in the reply
            for u in uids:
                size = BIG if self.scenario == "bigsize" and u == 2 \
                    else len(MESSAGES[u])
                extra = " FLAGS ()" if "FLAGS" in items else ""
                self.line("* %d FETCH (UID %d RFC822.SIZE %d%s)" %
                          (u, u, size, extra))
            self.line(tag + " OK fetch")
            return None
        return self.bodies(tag, uids)

    # --- the body FETCH, per scenario ---

    def literal(self, seq, uid, data):
        self.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(data))
                  + data + b")\r\n")

    def bodies(self, tag, uids):
        s = self.scenario
        if s == "stall":
            self.send(b"* 1 FETCH (UID 1 BODY[] {100}\r\n0123456789")
            self.hang()
        if s == "stall-line":
            self.send(b"* 1 FETCH (UID 1 RFC822.SI")
            self.hang()
        if s == "trickle":
            self.send(b"* 1 FETCH (UID 1 BODY[] {1000000}\r\n")
            while True:
                self.send(b"z")
                time.sleep(0.3)
        if s == "biglit":
            self.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" %
                      (uids[0], uids[0], BIG))
            chunk = b"\0" * 65536
            for _ in range(BIG // len(chunk)):
                self.send(chunk)
            return "close"
        if s == "garbage":
            rnd = random.Random(7)
            self.send(bytes(rnd.getrandbits(8) for _ in range(1 << 20))
                      .replace(b"\n", b"."))
            self.hang()
        if s == "junk":
            self.line("* 1 FETCH UID 1 BODY[] {3}")
            self.send(b"abc)\r\n")
            self.line(tag + " OK fetch")
            return None
        if s == "longline":
            while True:
                self.send(b"x" * 65536)
        if s == "flood":
            while True:
                self.send(b"* 1 EXISTS\r\n" * 1000)
        if s == "bye":
            self.literal(uids[0], uids[0], MESSAGES[uids[0]])
            self.line("* BYE going down")
            return "close"
        if s == "eof":
            self.send(b"* 1 FETCH (UID 1 BODY[] {100}\r\nonly a part")
            return "close"
        if s == "outoforder":
            for u in reversed(uids):
                self.literal(u, u, MESSAGES[u])
            self.line(tag + " OK fetch")
            return None
        if s == "normal":
            self.line("* 1 FETCH (FLAGS (\\Seen))")  # another client
            self.line("* 5 EXISTS")
            for u in uids:
                m = MESSAGES[u]
                if u == 1:  # UID after the body
                    self.send(b"* 1 FETCH (BODY[] {%d}\r\n" % len(m) + m +
                              b" UID 1 FLAGS (\\Seen \\Recent))\r\n")
                    self.line("* 9 RECENT")
                elif u == 2:  # a list value with a literal inside
                    self.send(b"* 2 FETCH (UID 2 X-LIST (a {3}\r\nb c) "
                              b"BODY[]<0> {%d}\r\n" % len(m) + m +
                              b" MODSEQ (12))\r\n")
                    self.line("* 4 EXPUNGE")
                else:  # a quoted string
                    self.send(b"* 3 FETCH (UID 3 BODY[] " + quoted(m) +
                              b")\r\n")
            self.line(tag + " OK fetch")
            return None
        for u in uids:  # plain, for curl's own per-UID FETCH
            self.literal(u, u, MESSAGES[u])
        self.line(tag + " OK fetch")
        return None


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--caps")
    ap.add_argument("--log")
    a = ap.parse_args()
    Session.scenario = a.scenario
    if a.caps:
        Session.caps = a.caps
    Session.logfile = a.log
    srv = Server(("127.0.0.1", a.port), Session)
    srv.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # one write: the test may stop reading after the first line
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
