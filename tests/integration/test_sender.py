"""Acknowledgements that do not wait, on the real servers: with
smtp.connections "auto" (the default) a burst of due acknowledgements opens
more than one SMTP connection and every acknowledgement is delivered
exactly once; an SMTP server that refuses connections beyond its limit
(a small server this test controls) gets no more than that, and its
per-session mail limit is a reconnect, not a failure.  tickctl status
shows the connections and the SMTP commands per mail."""
import collections
import json
import os
import re
import socket
import subprocess
import threading
import time

from conftest import mail
from test_faults import STACK_SH, delivered_ids, log_of, stop, wait_for


def queue_burst(w, n, prefix):
    """n new tickets imported while tickd is not running: n acknowledgements
    due at once when it starts.  Their Message-IDs."""
    files, ids = [], []
    for i in range(n):
        mid = "<%s-%d@c.example>" % (prefix, i)
        f = os.path.join(w.dir, "%s-%d.eml" % (prefix, i))
        with open(f, "w") as fh:
            fh.write(mail(w.addr(w.customer), w.addr(w.support), "%s %d" % (prefix, i), msgid=mid))
        files.append(f)
        ids.append(mid)
    w.ctl("import", *files)
    assert w.sql("SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'queued'") == str(n)
    return ids


def burst_sent(make_world, n, prefix):
    """A world without send limits in the way, n acknowledgements queued
    (queue_burst), tickd started and all n sent: (world, their
    Message-IDs, tickd's process, to be stopped by the caller)."""
    w = make_world(per_recipient_day=100000, per_ticket_hour=100000, global_per_minute=1000000)
    ids = queue_burst(w, n, prefix)
    p = w.start()
    try:
        wait_for(lambda: w.sql("SELECT count(*) FROM outbox WHERE state = 'sent'") == str(n), 120,
                 "%d acks sent" % n, [p])
    except BaseException:
        stop(p)
        raise
    return w, ids, p


def smtp_row(w):
    """The smtp-connections row of tickctl status (text), or None."""
    out = w.ctl("status").stdout.decode()
    for line in out.splitlines():
        if "smtp-connections" in line:
            return line
    return None


def commands_per_mail(row):
    m = re.search(r"([0-9.]+) commands/mail over (\d+)", row or "")
    return (float(m.group(1)), int(m.group(2))) if m else (None, 0)


def test_burst_opens_more_connections_and_acks_each_once(make_world):
    """150 acknowledgements due at once, default config: more than one
    connection sends them, each is delivered once, and tickctl status
    says how many SMTP commands a mail took."""
    w, ids, p = burst_sent(make_world, 150, "burst")
    try:
        # the idle round after the burst writes the final figures
        wait_for(lambda: commands_per_mail(smtp_row(w))[1] == 150, 30,
                 "status with 150 mails", [p])
        row = smtp_row(w)
    finally:
        stop(p)
    print(row)
    owners = w.sql("SELECT string_agg(DISTINCT leased_by, ',') FROM outbox").split(",")
    assert len(owners) >= 2, "one connection sent the whole burst: %s" % owners
    assert re.search(r"sender: mail is waiting, [2-4] SMTP connections", log_of(w))
    assert re.search(r"\d open \(auto, at most 4, peak [2-4]\)", row), row
    # MAIL, RCPT, DATA, end of data; EHLO and QUIT once per session
    cpm, sent = commands_per_mail(row)
    assert 4.0 <= cpm <= 4.5, row
    subprocess.run([STACK_SH, "wait-delivered", w.stack["STACK_DIR"], "120"], check=True,
                   capture_output=True)
    acks = delivered_ids(w, w.customer)
    assert len(acks) == 150 and set(acks) == set(ids), (len(acks), len(set(acks)))


def test_a_mail_below_every_other_id_is_sent_while_tickd_runs(make_world):
    """The sender takes mail oldest id first and must not lose sight of
    one below the ids it has already taken (a retry come due, a lease
    expired, a row another instance committed late): one queued behind
    tickd's back, below every other id, is sent once the next commit
    wakes the sender."""
    w, ids, p = burst_sent(make_world, 40, "below")
    try:
        low = int(w.sql("SELECT min(id) FROM outbox")) - 1000
        w.sql("INSERT INTO outbox (id, ticket_id, message_id, kind, env_from, rcpt, data, sender) "
              "SELECT %d, ticket_id, NULL, kind, env_from, rcpt, data, sender FROM outbox "
              "WHERE id = (SELECT min(id) FROM outbox) RETURNING id" % low)
        w.append(mail(w.addr(w.customer), w.addr(w.support), "after the burst",
                      msgid="<after-burst@c.example>"))
        wait_for(lambda: w.sql("SELECT state FROM outbox WHERE id = %d" % low) == "sent", 20,
                 "the mail below every other id sent", [p])
        wait_for(lambda: w.sql("SELECT count(*) FROM outbox WHERE state = 'sent'") == "42", 20,
                 "42 sent", [p])
    finally:
        stop(p)
    subprocess.run([STACK_SH, "wait-delivered", w.stack["STACK_DIR"], "120"], check=True,
                   capture_output=True)
    acks = delivered_ids(w, w.customer)
    # the copy repeats one acknowledgement's In-Reply-To: each of the 41
    # answered mails once, one of them twice
    counts = collections.Counter(acks)
    assert set(counts) == set(ids) | {"<after-burst@c.example>"}, counts
    assert len(acks) == 42 and sorted(counts.values()) == [1] * 40 + [2], counts


def test_acks_of_fetched_mail_are_sent_without_a_claim(make_world):
    """Mail fetched while tickd runs: each acknowledgement is born leased
    to a sender thread, which sends it without claiming it (one write of
    the outbox row fewer).  A trigger of this test's records every state
    change of an outbox row: no row goes queued -> sending, each goes
    sending -> sent once, was born "sending" and still had most of its
    lease when it was sent; each ack is delivered once."""
    n = 30
    w = make_world(per_recipient_day=100000, per_ticket_hour=100000, global_per_minute=1000000)
    w.sql("CREATE TABLE test_moves (id bigint, was text, now text, "
          "lease_left interval, leased_by text, attempts int)")
    w.sql("CREATE FUNCTION test_move() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
          "INSERT INTO test_moves VALUES (NEW.id, CASE WHEN TG_OP = 'INSERT' THEN 'born' "
          "ELSE OLD.state END, NEW.state, COALESCE(OLD.lease_until, NEW.lease_until) - now(), "
          "COALESCE(OLD.leased_by, NEW.leased_by), NEW.attempts); RETURN NULL; END $$")
    w.sql("CREATE TRIGGER test_move AFTER INSERT OR UPDATE OF state ON outbox "
          "FOR EACH ROW EXECUTE FUNCTION test_move()")
    p = w.start()
    ids = []
    try:
        for i in range(n):
            mid = "<handed-%d@c.example>" % i
            w.append(mail(w.addr(w.customer), w.addr(w.support), "handed %d" % i, msgid=mid))
            ids.append(mid)
        wait_for(lambda: w.sql("SELECT count(*) FROM outbox WHERE state = 'sent'") == str(n), 60,
                 "%d acks sent" % n, [p])
    finally:
        stop(p)
    moves = w.sql("SELECT was || '>' || now, count(*) FROM test_moves GROUP BY 1 ORDER BY 1")
    assert moves == "born>sending|%d\nsending>sent|%d" % (n, n), moves
    # sent by the session it was born leased to, its lease far from over
    assert w.sql("SELECT count(*) FROM test_moves WHERE was = 'sending' AND now = 'sent' "
                 "AND lease_left > interval '200 s' AND leased_by ~ '#[0-9]+$' "
                 "AND attempts = 1") == str(n)
    subprocess.run([STACK_SH, "wait-delivered", w.stack["STACK_DIR"], "120"], check=True,
                   capture_output=True)
    acks = delivered_ids(w, w.customer)
    assert sorted(acks) == sorted(ids), acks


def test_a_repeat_storm_while_tickd_runs_gets_no_more_than_the_breaker_allows(make_world):
    """The hostile version of handed mail: strangers (a loop's shape) write
    again while tickd runs, each repeat born leased to a sender thread.
    Handed mail skips the claim, not the send limits: no more repeats go
    out than limits.global_per_minute, the breaker opens, the rest stay
    queued (none lost), and a new customer's first acknowledgement still
    goes out at once."""
    w = make_world(global_per_minute=3, breaker_cooldown=0)
    custs = ["%s%d" % (w.customer, i) for i in range(6)]
    new = w.customer + "new"
    w.sql("CREATE TABLE test_born (id bigint, state text, is_repeat boolean)")
    w.sql("CREATE FUNCTION test_born() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
          "INSERT INTO test_born VALUES (NEW.id, NEW.state, NEW.is_repeat); RETURN NULL; END $$")
    w.sql("CREATE TRIGGER test_born AFTER INSERT ON outbox FOR EACH ROW "
          "EXECUTE FUNCTION test_born()")
    p = w.start()
    try:
        for c in custs:
            w.append(mail(w.addr(c), w.addr(w.support), "Storm %s" % c))
        wait_for(lambda: w.sql("SELECT count(*) FROM outbox WHERE state = 'sent'") == "6", 60,
                 "6 first acks sent", [p])
        for c in custs:
            w.append(mail(w.addr(c), w.addr(w.support), "Again %s" % c))
        w.append(mail(w.addr(new), w.addr(w.support), "First time"))
        # every repeat dealt with: sent, or held back in the queue
        wait_for(lambda: w.sql("SELECT count(*) FROM outbox WHERE is_repeat AND state IN "
                               "('sent', 'queued')") == "6", 60, "6 repeats sent or held", [p])
        wait_for(lambda: w.sql("SELECT state FROM outbox WHERE NOT is_repeat AND rcpt = '%s'"
                               % w.addr(new)) == "sent", 30, "the new customer's ack", [p])
    finally:
        stop(p)
    assert w.sql("SELECT state, count(*) FROM test_born WHERE is_repeat GROUP BY 1") == \
        "sending|6"  # all six were handed
    sent = int(w.sql("SELECT count(*) FROM outbox WHERE is_repeat AND state = 'sent'"))
    assert sent <= 3, sent
    assert w.sql("SELECT count(*) FROM outbox WHERE is_repeat AND state = 'queued'") == \
        str(6 - sent)
    st = json.loads(w.ctl("status", "--json").stdout)
    assert st["breaker"]["open"] is True, st["breaker"]
    subprocess.run([STACK_SH, "wait-delivered", w.stack["STACK_DIR"], "120"], check=True,
                   capture_output=True)
    got = collections.Counter()
    for c in custs + [new]:
        got[c] = len(delivered_ids(w, c))
    assert sum(got[c] for c in custs) == 6 + sent and got[new] == 1, got


class SmallSmtp:
    """An SMTP server with a connection limit (421 beyond it) and a
    per-session mail limit (452 to MAIL FROM beyond it, like OpenSMTPD's
    100), slowed to delay seconds per mail so that a backlog builds."""

    def __init__(self, max_conns, per_session, delay):
        self.max_conns, self.per_session, self.delay = max_conns, per_session, delay
        self.lock = threading.Lock()
        self.active = self.peak = self.refused = self.session_limits = 0
        self.accepted = []  # (session number, In-Reply-To)
        self.sessions = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                full = self.active >= self.max_conns
                if full:
                    self.refused += 1
                else:
                    self.active += 1
                    self.peak = max(self.peak, self.active)
                    self.sessions += 1
                    n = self.sessions
            if full:
                c.sendall(b"421 4.7.0 too many connections, try later\r\n")
                c.close()
                continue
            threading.Thread(target=self._session, args=(c, n), daemon=True).start()

    def _session(self, c, n):
        f = c.makefile("rb")
        mails = 0
        done = False

        def say(s):
            c.sendall(s.encode() + b"\r\n")
        try:
            say("220 small.example ESMTP")
            while True:
                line = f.readline(1000)
                if not line:
                    break
                cmd = line.decode("ascii", "replace").strip().upper()
                if cmd.startswith("EHLO") or cmd.startswith("HELO"):
                    say("250 small.example")
                elif cmd.startswith("MAIL"):
                    if mails >= self.per_session:
                        with self.lock:
                            self.session_limits += 1
                        say("452 4.5.3 Too many messages sent")
                    else:
                        say("250 ok")
                elif cmd.startswith("RCPT") or cmd.startswith("RSET") or cmd.startswith("NOOP"):
                    say("250 ok")
                elif cmd.startswith("DATA"):
                    say("354 go on")
                    body = b""
                    while True:
                        ln = f.readline(100000)
                        if not ln or ln == b".\r\n":
                            break
                        body += ln
                    time.sleep(self.delay)
                    m = re.search(rb"(?im)^In-Reply-To: *(<[^>]+>)", body)
                    with self.lock:
                        self.accepted.append((n, m.group(1).decode() if m else None))
                    mails += 1
                    say("250 queued")
                elif cmd.startswith("QUIT"):
                    # free the slot before the 221: the client's next
                    # connection may come right after it
                    with self.lock:
                        self.active -= 1
                    done = True
                    say("221 bye")
                    break
                else:
                    say("502 what")
        except OSError:
            pass
        finally:
            if not done:
                with self.lock:
                    self.active -= 1
            c.close()


def test_server_connection_limit_is_found_and_respected(make_world):
    """A server that takes two connections and 30 mails per session: tickd
    (auto, at most 4) tries a third connection once, holds 2 as the
    server's limit, shows it in tickctl status, renews sessions without
    failing a mail, and every acknowledgement is accepted exactly once."""
    srv = SmallSmtp(max_conns=2, per_session=30, delay=0.01)
    try:
        w = make_world(per_recipient_day=100000, per_ticket_hour=100000,
                       global_per_minute=1000000,
                       smtp_url="smtp://127.0.0.1:%d" % srv.port)
        ids = queue_burst(w, 300, "limit")
        p = w.start()
        try:
            wait_for(lambda: w.sql("SELECT count(*) FROM outbox WHERE state = 'sent'") == "300",
                     180, "300 acks sent", [p])
            wait_for(lambda: commands_per_mail(smtp_row(w))[1] == 300, 30,
                     "status with 300 mails", [p])
            row = smtp_row(w)
        finally:
            stop(p)
        print(row, "refused", srv.refused, "peak", srv.peak, "session limits",
              srv.session_limits)
        got = [a for _, a in srv.accepted]
        assert len(got) == 300 and set(got) == set(ids), (len(got), len(set(got)))
        assert srv.peak == 2
        assert srv.refused >= 1, "tickd never tried beyond two connections"
        # a refusal shows up once, not a storm of tries
        assert srv.refused <= 3, srv.refused
        log = log_of(w)
        assert "the SMTP server refused a connection while 2 worked" in log
        assert "server limit 2" in row, row
        # the refusal (curl reports the 421, not the server's words)
        assert re.search(r"smtp-connections .*421", w.ctl("status").stdout.decode())
        # the per-session limit renewed sessions; no mail failed for it
        assert srv.session_limits >= 1, "tickd never met the 30 mails per session"
        assert w.sql("SELECT count(*) FROM outbox WHERE state <> 'sent'") == "0"
        # only a refused connection's lease was tried again
        attempts = int(w.sql("SELECT max(attempts) FROM outbox"))
        assert attempts <= 1 + srv.refused, (attempts, srv.refused)
        per = {}
        for s, _ in srv.accepted:
            per[s] = per.get(s, 0) + 1
        assert max(per.values()) <= 30, per
    finally:
        srv.close()
