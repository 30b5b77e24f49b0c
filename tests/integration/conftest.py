"""Integration fixtures: one real stack (PostgreSQL, Dovecot, OpenSMTPD) per
test session, and per test a fresh "world": its own database, its own
support and customer mailboxes and its own tickd config, so tests never see
each other's mail."""
import email
import email.policy
import email.utils
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "stack"))
import imapbox  # noqa: E402

BUILD = os.environ.get("TICKD_BUILD", os.path.join(ROOT, "build"))
TICKD = os.path.join(BUILD, "tickd")
TICKCTL = os.path.join(BUILD, "tickctl")
_counter = itertools.count(1)


def _read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.replace("export ", "", 1).split("=", 1)
                env[k] = v.strip("'\"")
    return env


@pytest.fixture(scope="session")
def stack():
    d = tempfile.mkdtemp(prefix="tickd-it-")
    sh = os.path.join(ROOT, "tests", "stack.sh")
    try:
        subprocess.run([sh, "start", d], check=True)
        env = _read_env(os.path.join(d, "env"))
        os.environ.update({k: env[k] for k in ("IMAP_HOST", "IMAP_PORT", "MAIL_PASSWORD", "STACK_DIR")})
        yield env
    finally:
        subprocess.run([sh, "stop", d])
        shutil.rmtree(d, ignore_errors=True)


class World:
    """One tickd installation: database, config, mailboxes."""

    def __init__(self, stack, tmp, **overrides):
        self.stack = stack
        n = next(_counter)
        tag = uuid.uuid4().hex[:6]
        self.db = "t%d_%s" % (n, tag)
        self.support = "support%d%s" % (n, tag)
        self.customer = "cust%d%s" % (n, tag)
        self.domain = "example.com"
        self.dir = tmp
        psql = ["/usr/lib/postgresql/15/bin/psql", "-h", stack["PGHOST"], "-p", stack["PGPORT"],
                "-U", stack["PGUSER"], "-d", "postgres", "-qAtc"]
        subprocess.run(psql + ["CREATE DATABASE %s" % self.db], check=True)
        self.conninfo = "host=%s port=%s dbname=%s user=%s" % (
            stack["PGHOST"], stack["PGPORT"], self.db, stack["PGUSER"])
        with open(os.path.join(tmp, "imap-password"), "w") as f:
            f.write(stack["MAIL_PASSWORD"] + "\n")
        self.opts = dict(mailbox="INBOX", sent_mailbox=None, poll_interval=1, after="seen",
                         per_recipient_day=10, people="", tag="Example", idle="false",
                         reopen_days=14, trust_same_domain="false",
                         per_ticket_hour=5, global_per_minute=100, breaker_cooldown=900,
                         tickets_extra="", limits_extra="", imap_extra="", extra="",
                         smtp_extra="", smtp_url=None,
                         # these tests append mail before tickd's first poll
                         # to stand for mail arriving while it runs;
                         # test_firstday.py tests the default (history)
                         first_run="new")
        self.opts.update(overrides)
        self.conf = os.path.join(tmp, "tickd.conf")
        self.write_conf()
        self.ctl("migrate")
        self.ctl("init-secret")

    def addr(self, local):
        return "%s@%s" % (local, self.domain)

    def write_conf(self, **more):
        self.opts.update(more)
        o = self.opts
        sent = 'sent_mailbox = "%s";' % o["sent_mailbox"] if o["sent_mailbox"] else ""
        with open(self.conf, "w") as f:
            f.write("""
log_level = 7;
database: { conninfo = "%(conninfo)s"; };
imap: { url = "imap://%(ih)s:%(ip)s"; user = "%(support)s"; password_file = "%(dir)s/imap-password";
        mailbox = "%(mailbox)s"; %(sent)s after = "%(after)s"; poll_interval = %(poll)d;
        starttls = false; idle = %(idle)s; first_run = "%(fr)s"; %(ix)s timeout = 20; };
smtp: { url = "%(smtp_url)s"; from = "%(support)s@example.com"; from_name = "Example Support";
        starttls = false; timeout = 20; %(sx)s };
tickets: { subject_tag = "%(tag)s"; secret_file = "%(dir)s/secret"; reopen_days = %(reopen)d;
           trust_same_domain = %(tsd)s; %(tx)s };
limits: { per_recipient_day = %(prd)d; per_ticket_hour = %(pth)d; global_per_minute = %(gpm)d;
          breaker_cooldown = %(bcd)d; %(lx)s };
people = ( %(people)s );
%(extra)s
""" % dict(conninfo=self.conninfo, ih=self.stack["IMAP_HOST"], ip=self.stack["IMAP_PORT"],
                support=self.support, dir=self.dir, mailbox=o["mailbox"], sent=sent, after=o["after"],
                poll=o["poll_interval"], idle=o["idle"], sh=self.stack["SMTP_HOST"],
                sp=self.stack["SMTP_PORT"], tag=o["tag"], reopen=o["reopen_days"],
                tsd=o["trust_same_domain"], prd=o["per_recipient_day"], people=o["people"],
                tx=o["tickets_extra"], pth=o["per_ticket_hour"], gpm=o["global_per_minute"],
                bcd=o["breaker_cooldown"], lx=o["limits_extra"], extra=o["extra"],
                fr=o["first_run"], ix=o["imap_extra"], sx=o["smtp_extra"],
                smtp_url=o["smtp_url"] or "smtp://%s:%s" % (self.stack["SMTP_HOST"],
                                                            self.stack["SMTP_PORT"])))

    # -- running the programs --------------------------------------------
    def ctl(self, *args, check=True, input=None):
        p = subprocess.run([TICKCTL, "-c", self.conf] + list(args), input=input,
                           capture_output=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("tickctl %s failed (%d): %s" % (args, p.returncode, p.stderr.decode()))
        return p

    def once(self):
        p = subprocess.run([TICKD, "-c", self.conf, "--once"], capture_output=True, timeout=300)
        assert p.returncode == 0, "tickd --once exit %d:\n%s" % (p.returncode, p.stderr.decode()[-3000:])
        subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                        self.stack["STACK_DIR"], "60"], check=True, capture_output=True)
        return p

    def start(self):
        log = open(os.path.join(self.dir, "tickd.log"), "ab")
        return subprocess.Popen([TICKD, "-c", self.conf], stdout=log, stderr=log)

    def tickets(self):
        return json.loads(self.ctl("tickets", "--json").stdout)

    def ticket(self, n):
        return json.loads(self.ctl("ticket", str(n), "--json").stdout)

    def sql(self, q):
        p = subprocess.run(["/usr/lib/postgresql/15/bin/psql", "-h", self.stack["PGHOST"], "-p",
                            self.stack["PGPORT"], "-U", self.stack["PGUSER"], "-d", self.db,
                            "-qAtc", q], capture_output=True, check=True, text=True)
        return p.stdout.strip()

    # -- mail --------------------------------------------------------------
    def append(self, raw, mailbox=None):
        imapbox.append(self.support, mailbox or self.opts["mailbox"], raw)

    def inbox(self, user):
        """Parsed messages in user's INBOX."""
        return [email.message_from_bytes(m["raw"], policy=email.policy.default)
                for m in imapbox.fetch(user)]


def mail(frm, to, subject, body="Hello,\nplease help.\n", msgid=None, headers=None):
    """A raw customer mail (str, CRLF added by imapbox.append)."""
    msgid = msgid or "<%s@customer.example>" % uuid.uuid4().hex
    h = ["From: %s" % frm, "To: %s" % to, "Subject: %s" % subject,
         "Date: %s" % email.utils.formatdate(), "Message-ID: %s" % msgid,
         "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    h += headers or []
    return "\r\n".join(h) + "\r\n\r\n" + body.replace("\n", "\r\n")


@pytest.fixture
def world(stack, tmp_path):
    return World(stack, str(tmp_path))


@pytest.fixture
def make_world(stack, tmp_path):
    def make(**kw):
        d = tempfile.mkdtemp(dir=str(tmp_path))
        return World(stack, d, **kw)
    return make
