"""Admin operations: the systemd unit and its hardening score,
make install and the man pages, the notify protocol with a fake
NOTIFY_SOCKET, --check-config on broken configs, SIGHUP reload, tickctl
and the log format.  Real PostgreSQL/Dovecot/OpenSMTPD where a wire is
crossed; systemd-analyze in its offline modes (no systemd as PID 1 here)."""
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest

from conftest import ROOT, TICKCTL, TICKD, imapbox, mail

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_CONFIG = 0, 64, 65, 66, 69, 78
MAX_EXPOSURE = 1.5


def need_systemd_analyze():
    """The test installs systemd (for systemd-analyze) if it is missing."""
    if subprocess.run(["dpkg", "-s", "systemd"], capture_output=True).returncode != 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "systemd"], check=True, env=env)


def make_install(*args):
    p = subprocess.run(["make", "-s", "-C", ROOT, "install"] + list(args),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr


# ---------------------------------------------------------------- install, man


INSTALLED = [
    "usr/local/bin/tickd",
    "usr/local/bin/tickctl",
    "usr/local/lib/systemd/system/tickd.service",
    "usr/local/lib/sysusers.d/tickd.conf",
    "usr/local/lib/tmpfiles.d/tickd.conf",
    "etc/tickd/tickd.conf",
    "usr/local/share/tickd/tickd.conf.example",
    "usr/local/share/tickd/sql/001_init.sql",
    "usr/local/share/man/man8/tickd.8",
    "usr/local/share/man/man1/tickctl.1",
    "usr/local/share/man/man5/tickd.conf.5",
]


def test_make_install_destdir_and_man_pages(tmp_path):
    dest = str(tmp_path / "x")
    make_install("DESTDIR=" + dest)
    for f in INSTALLED:
        assert os.path.isfile(os.path.join(dest, f)), f
    assert os.access(os.path.join(dest, "usr/local/bin/tickd"), os.X_OK)
    unit = open(os.path.join(dest, "usr/local/lib/systemd/system/tickd.service")).read()
    assert "ExecStart=/usr/local/bin/tickd -c /etc/tickd/tickd.conf" in unit
    # every migration is installed
    for f in os.listdir(os.path.join(ROOT, "sql")):
        if f.endswith(".sql"):
            assert os.path.isfile(os.path.join(dest, "usr/local/share/tickd/sql", f)), f
    # an existing config is never overwritten
    conf = os.path.join(dest, "etc/tickd/tickd.conf")
    with open(conf, "w") as f:
        f.write("# mine\n")
    make_install("DESTDIR=" + dest)
    assert open(conf).read() == "# mine\n"
    # man -l renders each page, without a single groff/man warning
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    for page, title in (("man8/tickd.8", "TICKD(8)"), ("man1/tickctl.1", "TICKCTL(1)"),
                        ("man5/tickd.conf.5", "TICKD.CONF(5)")):
        p = subprocess.run(["man", "--warnings", "-l", os.path.join(dest, "usr/local/share/man", page)],
                           capture_output=True, text=True, env=env)
        assert p.returncode == 0 and p.stderr == "", (page, p.stderr)
        assert p.stdout.startswith(title) and "NAME" in p.stdout and "SEE ALSO" in p.stdout, page


def test_unit_verifies_and_security_score(tmp_path):
    """systemd-analyze verify on the installed unit (PREFIX pointing into
    tmp so that the ExecStart= binary really exists) and the offline
    security score <= 1.5; the sysusers/tmpfiles files parse."""
    need_systemd_analyze()
    prefix = str(tmp_path / "usr")
    make_install("PREFIX=" + prefix, "SYSCONFDIR=" + str(tmp_path / "etc"))
    unit = os.path.join(prefix, "lib/systemd/system/tickd.service")
    text = open(unit).read()
    assert "ExecStart=%s/bin/tickd -c %s/etc/tickd/tickd.conf" % (prefix, tmp_path) in text
    for needle in ("Type=notify", "User=tickd", "ExecReload=/bin/kill -HUP $MAINPID",
                   "LoadCredential=imap-password:", "LoadCredential=smtp-password:",
                   "LoadCredential=secret:", "WatchdogSec="):
        assert needle in text, needle
    env = dict(os.environ, MANPATH=os.path.join(prefix, "share/man"), SYSTEMD_LOG_LEVEL="notice")
    p = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stderr
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--threshold=%d" % int(MAX_EXPOSURE * 10), unit],
                       capture_output=True, text=True, env=env, timeout=120)
    m = re.search(r"Overall exposure level for tickd\.service: ([0-9.]+) (\w+)", p.stdout)
    assert m, p.stdout + p.stderr
    score = float(m.group(1))
    print("systemd-analyze security --offline=yes: %s %s" % (m.group(1), m.group(2)))
    assert score <= MAX_EXPOSURE, p.stdout
    assert p.returncode == 0
    # sysusers.d creates the user, then tmpfiles.d the directories with it,
    # in an empty root (the host is not touched)
    root = tmp_path / "root"
    (root / "etc" / "tickd").mkdir(parents=True)
    (root / "etc" / "tickd" / "tickd.conf").write_text("# config\n")
    p = subprocess.run(["systemd-sysusers", "--root", str(root),
                        os.path.join(prefix, "lib/sysusers.d/tickd.conf")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    pw = [l.split(":") for l in (root / "etc" / "passwd").read_text().splitlines()]
    tickd = [e for e in pw if e[0] == "tickd"]
    assert tickd and tickd[0][5] == "/var/lib/tickd" and tickd[0][6] == "/usr/sbin/nologin"
    uid = int(tickd[0][2])
    assert 0 < uid < 1000  # a system user
    p = subprocess.run(["systemd-tmpfiles", "--root", str(root), "--create",
                        os.path.join(prefix, "lib/tmpfiles.d/tickd.conf")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    st = os.stat(root / "var" / "lib" / "tickd")
    assert st.st_uid == uid and oct(st.st_mode & 0o777) == "0o700"
    st = os.stat(root / "etc" / "tickd")
    assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o750"
    st = os.stat(root / "etc" / "tickd" / "tickd.conf")
    assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o640"
    for cred in ("imap-password", "smtp-password"):
        st = os.stat(root / "etc" / "tickd" / cred)
        assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o600"


# ---------------------------------------------------------------- notify


class NotifySocket:
    """A fake systemd: an AF_UNIX datagram socket collecting messages."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []  # (monotonic time, text)

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            self.msgs.append((time.monotonic(), data.decode()))

    def wait_for(self, text, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for t, m in self.msgs:
                if text in m.split("\n"):
                    return t
            self.drain(0.2)
        raise AssertionError("no %r within %ss; got %r" % (text, seconds, self.texts()))

    def texts(self):
        return [m for _, m in self.msgs]

    def close(self):
        self.sock.close()


def stack_sh(stack, *args):
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh")] + list(args[:1]) +
                   [stack["STACK_DIR"]] + list(args[1:]), check=True, capture_output=True)


def ensure_pg(stack):
    st = subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "status", stack["STACK_DIR"]],
                        capture_output=True, text=True).stdout
    if "pg running" not in st:
        stack_sh(stack, "start-one", "pg")


def start_tickd(world, notify_path, *extra, env_more=None):
    log = open(os.path.join(world.dir, "tickd.log"), "ab")
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    env.update(env_more or {})
    return subprocess.Popen([TICKD, "-c", world.conf] + list(extra), stdout=log, stderr=log, env=env)


def read_log(world):
    with open(os.path.join(world.dir, "tickd.log"), errors="replace") as f:
        return f.read()


def wait_log(world, pattern, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if re.search(pattern, read_log(world)):
            return
        time.sleep(0.2)
    raise AssertionError("log has no %r:\n%s" % (pattern, read_log(world)[-3000:]))


def test_notify_ready_only_after_database(world, stack):
    ns = NotifySocket(os.path.join(world.dir, "notify.sock"))
    p = None
    stack_sh(stack, "stop-one", "pg")
    try:
        # WatchdogSec=2s: WATCHDOG=1 every second once running
        p = start_tickd(world, ns.path, env_more={"WATCHDOG_USEC": "2000000"})
        ns.drain(4)
        assert p.poll() is None, "tickd exited while the database was down"
        assert not any("READY=1" in m.split("\n") for m in ns.texts()), ns.texts()
        assert any(m.startswith("STATUS=") and "database" in m for m in ns.texts()), ns.texts()
        t_pg = time.monotonic()
        stack_sh(stack, "start-one", "pg")
        t_ready = ns.wait_for("READY=1", 90)
        assert t_ready > t_pg
        # a summary line: mailboxes, last fetch, backlog
        end = time.monotonic() + 20
        while not any(re.match(r"STATUS=1 mailbox\(es\), last fetch \d\d:\d\d:\d\d, outbox backlog 0",
                               m) for m in ns.texts()):
            assert time.monotonic() < end, ns.texts()
            ns.drain(0.5)
        ns.drain(3.5)
        pings = [t for t, m in ns.msgs if m == "WATCHDOG=1" and t > t_ready]
        assert len(pings) >= 2, ns.texts()
        assert all(b - a < 2.0 for a, b in zip(pings, pings[1:])), pings
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        ns.drain(0.5)
        assert "STOPPING=1" in ns.texts(), ns.texts()
        # order: STATUS while waiting ... READY ... STOPPING last
        texts = ns.texts()
        assert texts.index("READY=1") < texts.index("STOPPING=1")
        print("notify: %s" % texts)
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        ensure_pg(stack)
        ns.close()


def test_watchdog_pings_during_a_long_fetch(world):
    """WATCHDOG=1 comes from the tick and from every fetched mail: a first
    fetch of many mails that takes several WatchdogSec/2 periods still
    pings on time (no gap > 1.6 s with WATCHDOG_USEC=2 s)."""
    # Big, varied bodies keep the first fetch several seconds long even on an
    # idle machine (parse, quote split and the bytea insert scale with size).
    n = 1500
    filler = "".join("line %d of a long log the customer pasted: %s\n" % (k, uuid.uuid4().hex)
                     for k in range(400))
    m = imapbox.connect(world.support)
    try:
        for i in range(n):
            raw = mail(world.addr(world.customer), world.addr(world.support), "bulk %d" % i,
                       body="Hello,\n%s" % filler)
            m.append("INBOX", None, None, raw.encode())
    finally:
        m.logout()
    ns = NotifySocket(os.path.join(world.dir, "notify.sock"))
    p = start_tickd(world, ns.path, env_more={"WATCHDOG_USEC": "2000000"})
    try:
        t_ready = ns.wait_for("READY=1", 60)
        end = time.monotonic() + 240
        while not any(m.startswith("STATUS=1 mailbox") for m in ns.texts()):
            assert time.monotonic() < end and p.poll() is None, ns.texts()
            ns.drain(0.5)
        # the first tick fetched everything; STATUS= closes it
        t_status = [t for t, m in ns.msgs if m.startswith("STATUS=1 mailbox")][0]
        assert world.sql("SELECT count(*) FROM message WHERE direction = 'in'") == str(n)
        pings = [t_ready] + [t for t, m in ns.msgs if m == "WATCHDOG=1" and t_ready <= t <= t_status]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        print("watchdog: first fetch of %d mails took %.1fs, %d pings, largest gap %.2fs"
              % (n, t_status - t_ready, len(pings) - 1, max(gaps or [0])))
        assert t_status - t_ready > 2.5, "fetch too fast to show anything; raise n"
        assert max(gaps) < 1.6, gaps
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        ns.close()


def test_notify_stopping_while_waiting_for_database(world, stack):
    ns = NotifySocket(os.path.join(world.dir, "notify.sock"))
    stack_sh(stack, "stop-one", "pg")
    try:
        p = start_tickd(world, ns.path)
        ns.drain(2)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        ns.drain(0.3)
        assert "READY=1" not in ns.texts() and "STOPPING=1" in ns.texts(), ns.texts()
    finally:
        ensure_pg(stack)
        ns.close()


# ---------------------------------------------------------------- --check-config

BASE = [
    "# tickd test config",                        # 1
    "database: {",                                # 2
    '  conninfo = "dbname=x";',                   # 3
    "};",                                         # 4
    "imap: {",                                    # 5
    '  url = "imap://127.0.0.1:1";',              # 6
    '  user = "support";',                        # 7
    '  password_file = "imap-password";',         # 8
    "  poll_interval = 60;",                      # 9
    "  starttls = false;",                        # 10
    "};",                                         # 11
    "smtp: {",                                    # 12
    '  url = "smtp://127.0.0.1:2";',              # 13
    '  from = "support@example.com";',            # 14
    "};",                                         # 15
    "tickets: {",                                 # 16
    '  secret_file = "secret";',                  # 17
    '  subject_tag = "Example";',                 # 18
    "};",                                         # 19
    "people = (",                                 # 20
    '  { address = "alice@example.com"; role = "agent"; },',   # 21
    '  { address = "mary@example.com"; role = "manager"; }',   # 22
    ");",                                         # 23
]

# (name, {line: replacement}, [expected "LINE: message"]) - every expected
# message must appear, and nothing else may.
BROKEN = [
    ("unknown key", {9: "  pol_interval = 60;"},
     ["9: unknown setting 'imap.pol_interval'"]),
    ("unknown group", {23: ");\nlimit: { per_recipient_day = 3; };"},
     ["24: unknown setting 'limit'"]),  # once: its members are not listed too
    ("wrong type: string for a number", {9: '  poll_interval = "60";'},
     ["9: imap.poll_interval: expected a whole number"]),
    ("wrong type: string for a bool", {10: '  starttls = "no";'},
     ["10: imap.starttls: expected true or false"]),
    ("out of range", {9: "  poll_interval = 0;"},
     ["9: imap.poll_interval: 0 is out of range (1..86400)"]),
    ("out of range, large", {9: "  poll_interval = 90000;\n  timeout = 7200;"},
     ["9: imap.poll_interval: 90000 is out of range (1..86400)",
      "10: imap.timeout: 7200 is out of range (1..3600)"]),
    ("missing credential file", {8: '  password_file = "nosuch-password";'},
     ["8: imap.password_file: cannot read 'nosuch-password': No such file or directory"]),
    ("missing secret by path", {17: '  secret_file = "/nonexistent/tickd-secret";'},
     ["17: tickets.secret_file: cannot read '/nonexistent/tickd-secret': No such file or directory"]),
    ("bad enum value", {9: '  poll_interval = 60; after = "delete";'},
     ["9: imap.after: 'delete' is not seen, move or none"]),
    ("duplicate person", {22: '  { address = "ALICE@example.com"; role = "manager"; }'},
     ["22: people: 'ALICE@example.com' is listed twice"]),
    ("bad role", {22: '  { address = "mary@example.com"; role = "boss"; }'},
     ["22: people: role 'boss' is not agent or manager"]),
    ("person without address", {22: '  { name = "Mary"; }'},
     ["22: people: entry 2 needs address = \"name@domain\""]),
    ("bad url scheme", {6: '  url = "https://127.0.0.1:1";'},
     ["6: imap.url: 'https://127.0.0.1:1' must start with imap:// or imaps://"]),
    ("missing required key", {7: "  # no user"},
     ["5: imap.user: required setting is missing"]),
    ("from is not an address", {14: '  from = "support";'},
     ["14: smtp.from: 'support' is not an address"]),
    ("bad subject tag", {18: '  subject_tag = "Ex#1";'},
     ["18: tickets.subject_tag: must be non-empty and without '[', ']' or '#'"]),
    ("syntax error", {13: '  url "smtp://127.0.0.1:2";'},
     ["13: syntax error"]),
    ("several problems at once", {9: "  pol_interval = 60; poll_interval = -1;",
                                  10: '  starttls = 1;', 14: '  from = "nobody";'},
     ["9: unknown setting 'imap.pol_interval'",
      "9: imap.poll_interval: -1 is out of range (1..86400)",
      "10: imap.starttls: expected true or false",
      "14: smtp.from: 'nobody' is not an address"]),
]


def write_check_conf(d, edits):
    lines = list(BASE)
    for n, text in edits.items():
        lines[n - 1] = text
    path = os.path.join(d, "tickd.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


@pytest.fixture
def confdir(tmp_path):
    d = str(tmp_path)
    with open(os.path.join(d, "imap-password"), "w") as f:
        f.write("s3cret-imap-pw\n")
    with open(os.path.join(d, "secret"), "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    return d


def check_config(path):
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run([TICKD, "--check-config", "-c", path], capture_output=True,
                          text=True, env=env, timeout=30)


def test_check_config_clean(confdir):
    path = write_check_conf(confdir, {})
    p = check_config(path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    assert lines[0].startswith(path + ": ok: INBOX on imap://127.0.0.1:1 as support, poll 60s")
    assert "2 people" in lines[0]


@pytest.mark.parametrize("name,edits,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_check_config_broken(confdir, name, edits, expected):
    path = write_check_conf(confdir, edits)
    p = check_config(path)
    assert p.returncode == 1, (name, p.returncode, p.stdout, p.stderr)
    got = p.stderr.splitlines()
    assert got[-1] == "%s: %d problem(s)" % (path, len(got) - 1), got
    got = got[:-1]
    want = ["%s:%s" % (path, e) for e in expected]
    for w in want:
        assert w in got, "%s: want %r in %r" % (name, w, got)
    assert len(got) == len(want), "%s: unexpected extra lines: %r" % (name, got)
    assert p.stdout == ""


def test_check_config_uses_credentials_directory(confdir, tmp_path):
    """Under systemd the bare names come from $CREDENTIALS_DIRECTORY."""
    path = write_check_conf(confdir, {})
    cred = tmp_path / "creds"
    cred.mkdir()
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(cred))
    p = subprocess.run([TICKD, "--check-config", "-c", path], capture_output=True, text=True, env=env)
    assert p.returncode == 1
    assert "%s:8: imap.password_file: cannot read 'imap-password'" % path in p.stderr
    (cred / "imap-password").write_text("pw\n")
    (cred / "secret").write_text("fedcba9876543210fedcba9876543210\n")
    p = subprocess.run([TICKD, "--check-config", "-c", path], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr


def test_init_secret_bare_name_next_to_config(tmp_path):
    """secret_file = "secret" (the unit's credential name): an admin's
    tickctl init-secret writes it next to the config, where the unit's
    LoadCredential= takes it from; never over an existing one."""
    d = str(tmp_path)
    with open(os.path.join(d, "imap-password"), "w") as f:
        f.write("pw\n")
    path = write_check_conf(d, {})
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    assert check_config(path).returncode == 1
    p = subprocess.run([TICKCTL, "-c", path, "init-secret"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    st = os.stat(os.path.join(d, "secret"))
    assert oct(st.st_mode & 0o777) == "0o600" and st.st_size == 65
    first = open(os.path.join(d, "secret")).read()
    assert re.match(r"^[0-9a-f]{64}\n$", first)
    assert first.strip() not in p.stdout + p.stderr
    assert check_config(path).returncode == 0
    p = subprocess.run([TICKCTL, "-c", path, "init-secret"], capture_output=True, text=True, env=env)
    assert p.returncode == 73 and open(os.path.join(d, "secret")).read() == first


def test_check_config_missing_file(tmp_path):
    p = check_config(str(tmp_path / "nope.conf"))
    assert p.returncode == 1
    assert "%s:0: cannot read: No such file or directory" % (tmp_path / "nope.conf") in p.stderr


def test_daemon_with_bad_config_logs_each_problem_and_exits_78(confdir):
    path = write_check_conf(confdir, {9: "  poll_interval = 0;", 14: '  from = "nobody";'})
    p = subprocess.run([TICKD, "-c", path], capture_output=True, text=True, timeout=30)
    assert p.returncode == EX_CONFIG
    assert p.stderr.splitlines() == [
        "<3>loop: config: %s:9: imap.poll_interval: 0 is out of range (1..86400)" % path,
        "<3>loop: config: %s:14: smtp.from: 'nobody' is not an address" % path]


# ---------------------------------------------------------------- SIGHUP


def conf_line(path, needle):
    for i, line in enumerate(open(path).read().split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_sighup_bad_config_keeps_old_good_config_applies(world):
    ns = NotifySocket(os.path.join(world.dir, "notify.sock"))
    p = start_tickd(world, ns.path)
    try:
        ns.wait_for("READY=1", 60)
        wait_log(world, r"loop: started, 1 mailbox\(es\), poll every 1s")
        good = open(world.conf).read()
        # broken: an unknown key, an out-of-range value and a wrong type
        bad = good.replace("poll_interval = 1;", "poll_interval = 0;").replace(
            "timeout = 20; };", 'timeout = "x"; };', 1) + "\nbogus_key = 1;\n"
        with open(world.conf, "w") as f:
            f.write(bad)
        l_poll = conf_line(world.conf, "poll_interval = 0;")
        l_timeout = conf_line(world.conf, 'timeout = "x"')
        l_bogus = conf_line(world.conf, "bogus_key")
        n_ready = ns.texts().count("READY=1")
        p.send_signal(signal.SIGHUP)
        wait_log(world, r"keeping the running configuration")
        log = read_log(world)
        for l, msg in ((l_bogus, "unknown setting 'bogus_key'"),
                       (l_poll, "imap.poll_interval: 0 is out of range (1..86400)"),
                       (l_timeout, "imap.timeout: expected a whole number")):
            assert "<3>loop: reload: %s:%d: %s" % (world.conf, l, msg) in log, log[-2000:]
        ns.wait_for("RELOADING=1", 10)
        end = time.monotonic() + 10
        while ns.texts().count("READY=1") <= n_ready:
            assert time.monotonic() < end, ns.texts()
            ns.drain(0.2)
        # still running, still on the old config: a new mail is fetched
        assert p.poll() is None
        world.append(mail(world.addr(world.customer), world.addr(world.support), "after bad reload"))
        end = time.monotonic() + 30
        while world.sql("SELECT count(*) FROM ticket") != "1":  # tickctl would refuse the file
            assert time.monotonic() < end, read_log(world)[-2000:]
            time.sleep(0.3)
        # good config with a new poll interval: applied
        world.write_conf(poll_interval=7)
        p.send_signal(signal.SIGHUP)
        wait_log(world, r"<5>loop: reloaded '%s' \(poll every 7s\)" % re.escape(world.conf))
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        ns.close()


# ---------------------------------------------------------------- tickctl

PEOPLE = ('{ address = "alice@example.com"; name = "Alice"; role = "agent"; }, '
          '{ address = "mary@example.com"; name = "Mary"; role = "manager"; }')


def ctl(world, *args, env=None, input=None):
    e = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return subprocess.run([TICKCTL, "-c", world.conf] + list(args), capture_output=True,
                          text=True, env=e, input=input, timeout=60)


def import_ticket(world, subject):
    p = world.ctl("import", "--json",
                  input=mail(world.addr(world.customer), world.addr(world.support), subject).encode())
    return json.loads(p.stdout)["ticket"]


def events(world, n):
    rows = world.sql("SELECT actor || '|' || action || '|' || COALESCE(detail, '') FROM event "
                     "WHERE ticket_id = %d AND actor LIKE 'tickctl%%' ORDER BY id" % n)
    return rows.split("\n") if rows else []


def test_tickctl_ticket_changes_are_audited(make_world):
    w = make_world(people=PEOPLE)
    a = import_ticket(w, "Printer")
    b = import_ticket(w, "Scanner")
    env = {"SUDO_USER": "admin1"}
    p = ctl(w, "close", str(a), env=env)
    assert p.returncode == 0 and "status closed" in p.stdout, p.stderr
    assert w.ticket(a)["status"] == "closed"
    p = ctl(w, "close", str(a), env=env)  # already closed: no second event
    assert p.returncode == 0 and "already" in p.stdout
    assert ctl(w, "assign", str(b), "Alice@Example.com", env=env).returncode == 0
    assert w.ticket(b)["assignee"] == "alice@example.com"
    assert ctl(w, "priority", str(b), "urgent", env=env).returncode == 0
    assert w.ticket(b)["priority"] == "urgent"
    assert ctl(w, "note", str(b), "called", "the", "customer", env=env).returncode == 0
    assert ctl(w, "assign", str(b), "-", env={"SUDO_USER": "", "USER": "bob"}).returncode == 0
    assert w.ticket(b)["assignee"] is None
    nobody = {"SUDO_USER": None, "USER": None, "LOGNAME": None}
    assert ctl(w, "note", str(a), "from cron", env=nobody).returncode == 0
    me = pwd.getpwuid(os.getuid()).pw_name
    assert events(w, a) == ["tickctl:admin1|status|closed", "tickctl:%s|note|from cron" % me]
    assert events(w, b) == ["tickctl:admin1|assign|alice@example.com",
                            "tickctl:admin1|priority|urgent",
                            "tickctl:admin1|note|called the customer",
                            "tickctl:bob|assign|-"]
    # the events show in `ticket N --json`
    ev = [e for e in w.ticket(b)["events"] if e["actor"].startswith("tickctl")]
    assert [e["action"] for e in ev] == ["assign", "priority", "note", "assign"]
    # errors: sysexits, nothing changed
    assert ctl(w, "assign", str(b), "stranger@evil.example").returncode == EX_DATAERR
    assert ctl(w, "priority", str(b), "sky-high").returncode == EX_DATAERR
    assert ctl(w, "note", str(b), "   ").returncode == EX_DATAERR
    assert ctl(w, "close", "999999").returncode == EX_NOINPUT
    p = ctl(w, "ticket", "999999")
    assert p.returncode == EX_NOINPUT and p.stderr == "tickctl: no ticket 999999\n", p.stderr
    assert ctl(w, "close").returncode == EX_USAGE
    assert ctl(w, "close", "abc").returncode == EX_USAGE
    assert ctl(w, "priority", str(b)).returncode == EX_USAGE
    assert ctl(w, "frobnicate").returncode == EX_USAGE
    assert len(events(w, b)) == 4
    assert w.ticket(b)["priority"] == "urgent"


def test_tickctl_tickets_filters_table_and_json(make_world):
    w = make_world(people=PEOPLE)
    a = import_ticket(w, "Alpha problem")
    b = import_ticket(w, "Beta problem")
    c = import_ticket(w, "Gamma problem")
    world_ctl_ok = lambda *args: ctl(w, *args)  # noqa: E731
    assert world_ctl_ok("priority", str(b), "high").returncode == 0
    assert world_ctl_ok("assign", str(c), "mary@example.com").returncode == 0
    assert world_ctl_ok("close", str(a)).returncode == 0

    def nums(*args):
        p = ctl(w, "tickets", "--json", *args)
        assert p.returncode == 0, p.stderr
        return [t["number"] for t in json.loads(p.stdout)]

    assert nums() == [a, b, c]
    assert nums("--status", "closed") == [a]
    assert nums("--status", "new") == [b, c]
    assert nums("--priority", "high") == [b]
    assert nums("--assignee", "mary@example.com") == [c]
    assert nums("--assignee", "-") == [a, b]
    assert nums("--queue", "support") == [a, b, c]
    assert nums("--queue", "billing") == []
    assert nums("--status", "new", "--priority", "normal") == [c]
    # table by default: a header and one aligned row per ticket
    p = ctl(w, "tickets")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert re.match(r"NUMBER +STATUS +PRIORITY +QUEUE +ASSIGNEE +REQUESTER +UPDATED +SUBJECT$", lines[0])
    assert len(lines) == 4
    row_c = [l for l in lines if l.startswith(str(c))][0]
    assert re.match(r"%d +new +normal +support +mary@example\.com +\S+ +\d{4}-\d\d-\d\d \d\d:\d\d +Gamma problem$"
                    % c, row_c), row_c
    # columns line up: every row starts STATUS where the header does
    col = lines[0].index("STATUS")
    assert all(l[col - 2:col] == "  " and l[col] != " " for l in lines[1:])
    p = ctl(w, "tickets", "--status", "closed")
    assert "Alpha problem" in p.stdout and "Beta" not in p.stdout
    assert ctl(w, "tickets", "--status", "bogus").returncode == EX_DATAERR
    assert ctl(w, "tickets", "--priority", "meh").returncode == EX_DATAERR
    assert ctl(w, "tickets", "--status").returncode == EX_USAGE
    assert ctl(w, "tickets", "--color").returncode == EX_USAGE
    # --breached: what the last SLA tick wrote into sla_clock.view
    p = ctl(w, "tickets", "--breached", "--json")
    assert p.returncode == 0 and json.loads(p.stdout) == []
    w.sql("INSERT INTO sla_clock (ticket_id, view) VALUES (%d, '{\"breached\": true}'), "
          "(%d, '{\"breached\": false}') ON CONFLICT (ticket_id) DO UPDATE SET view = EXCLUDED.view"
          % (b, c))
    p = ctl(w, "tickets", "--breached", "--json")
    assert p.returncode == 0 and [t["number"] for t in json.loads(p.stdout)] == [b], p.stdout
    p = ctl(w, "tickets", "--breached", "--status", "closed", "--json")
    assert json.loads(p.stdout) == []
    # ticket N: readable by default, JSON on request
    p = ctl(w, "ticket", str(b))
    assert p.returncode == 0 and '"subject": "Beta problem"' in p.stdout


def test_tickctl_outbox_and_retry(make_world):
    w = make_world()
    a = import_ticket(w, "Needs an ack")
    b = import_ticket(w, "Another")
    ids = w.sql("SELECT id FROM outbox ORDER BY id").split()
    assert len(ids) == 2
    p = ctl(w, "outbox")
    assert p.returncode == 0
    assert re.match(r"ID +TICKET +KIND +RCPT +STATE +ATTEMPTS +NEXT_ATTEMPT +LAST_CODE +LAST_ERROR +CREATED$",
                    p.stdout.splitlines()[0]), p.stdout
    assert len(p.stdout.splitlines()) == 3
    rows = json.loads(ctl(w, "outbox", "--json").stdout)
    assert [r["id"] for r in rows] == [int(i) for i in ids]
    assert rows[0]["state"] == "queued" and rows[0]["ticket"] == a
    # a failed mail is made due again, audited on its ticket
    w.sql("UPDATE outbox SET state = 'failed', last_code = 550, last_error = 'mailbox full', "
          "next_attempt = now() + interval '1 day' WHERE id = %s" % ids[0])
    p = ctl(w, "outbox")
    assert "failed" in p.stdout and "mailbox full" in p.stdout
    p = ctl(w, "outbox", "--retry", ids[0], env={"SUDO_USER": "ops"})
    assert p.returncode == 0, p.stderr
    assert w.sql("SELECT state, next_attempt <= now() FROM outbox WHERE id = %s" % ids[0]) == "queued|t"
    assert events(w, a) == ["tickctl:ops|retry|outbox %s" % ids[0]]
    # sent and suppressed mails are refused; unknown ids are "no input"
    w.sql("UPDATE outbox SET state = 'sent' WHERE id = %s" % ids[1])
    assert ctl(w, "outbox", "--retry", ids[1]).returncode == EX_DATAERR
    w.sql("UPDATE outbox SET state = 'suppressed' WHERE id = %s" % ids[1])
    assert ctl(w, "outbox", "--retry", ids[1]).returncode == EX_DATAERR
    assert w.sql("SELECT state FROM outbox WHERE id = %s" % ids[1]) == "suppressed"
    assert ctl(w, "outbox", "--retry", "999999").returncode == EX_NOINPUT
    assert ctl(w, "outbox", "--retry", "x").returncode == EX_USAGE
    # --all shows sent/suppressed too
    assert len(json.loads(ctl(w, "outbox", "--all", "--json").stdout)) == 2
    assert len(json.loads(ctl(w, "outbox", "--json").stdout)) == 1
    assert b


def test_tickctl_status(make_world):
    w = make_world()
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Status please"))
    w.once()
    w.sql("INSERT INTO suppression (addr, reason, until) VALUES "
          "('bouncy@example.net', 'hard bounce 5.1.1', now() + interval '3 days')")
    w.sql("INSERT INTO outbox (kind, env_from, rcpt, data, created) VALUES "
          "('ack', '', 'x@example.net', 'x', now() - interval '2 hours')")
    p = ctl(w, "status")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "mailboxes:" in out and "outbox:" in out and "suppressed addresses:" in out
    mb = "support:INBOX"
    assert re.search(r"^MAILBOX +UIDVALIDITY +CURSOR +MARKED_UID +LAST_OK +LAG_SECONDS +FAILURES +QUARANTINED "
                     r"+LAST_ERROR +LAST_ERROR_AT$", out, re.M), out
    assert re.search(r"^%s +\d+ +1 +1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+ +0 +0 +- +-$" % mb, out, re.M), out
    assert re.search(r"^BACKLOG +OLDEST_QUEUED +OLDEST_AGE_SECONDS +FAILED +SUPPRESSED +SENT$", out, re.M)
    m = re.search(r"^1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+) +0 +0 +1$", out, re.M)
    assert m and 7100 < int(m.group(1)) < 7300, out
    assert re.search(r"^bouncy@example\.net +hard bounce 5\.1\.1 +\d{4}-", out, re.M), out
    j = json.loads(ctl(w, "status", "--json").stdout)
    assert j["mailboxes"][0]["mailbox"] == mb and j["mailboxes"][0]["last_uid"] == 1
    assert j["mailboxes"][0]["lag_seconds"] >= 0 and j["mailboxes"][0]["last_error"] is None
    assert j["outbox"]["queued"] == 1 and j["outbox"]["oldest_queued"]
    assert j["suppressed_addresses"] == 1
    assert j["suppressed"][0]["addr"] == "bouncy@example.net"
    # a fetch error shows up
    w.sql("UPDATE mailbox_state SET last_error = 'login failed', failures = 3")
    assert re.search(r" 3 +0 +login failed ", ctl(w, "status").stdout)


def test_tickctl_exit_codes_config_and_database(make_world, tmp_path):
    w = make_world()
    bad = str(tmp_path / "bad.conf")
    with open(bad, "w") as f:
        f.write(open(w.conf).read() + "\nbogus = 1;\n")
    p = subprocess.run([TICKCTL, "-c", bad, "status"], capture_output=True, text=True)
    assert p.returncode == EX_CONFIG and "unknown setting 'bogus'" in p.stderr
    down = str(tmp_path / "down.conf")
    with open(down, "w") as f:
        f.write(re.sub(r"port=\d+", "port=1", open(w.conf).read()))
    for args in (["status"], ["tickets"], ["close", "1000"], ["outbox"]):
        p = subprocess.run([TICKCTL, "-c", down] + args, capture_output=True, text=True)
        assert p.returncode == EX_UNAVAILABLE, (args, p.returncode, p.stderr)
    p = subprocess.run([TICKCTL, "-c", down, "import"], input=b"Subject: x\r\n\r\nbody\r\n",
                       capture_output=True)
    # an MTA pipe must retry, not bounce: EX_TEMPFAIL
    assert p.returncode == 75, p.stderr


# ---------------------------------------------------------------- logging

LOG_LINE = re.compile(r"^<[0-7]>[a-z]+: \S.*$")


def test_log_lines_prefixed_and_free_of_secrets(make_world):
    """A full round (fetch, ticket, ack sent, agent reply) at log level 7:
    every line has a journald prefix and a module, and neither the
    password, the token secret, a signed token nor any body text shows."""
    w = make_world(people=PEOPLE)
    body = "BODYMARKER-7731 my card number is 4111 1111 1111 1111\n"
    w.append(mail(w.addr(w.customer), w.addr(w.support), "Secret stuff", body=body))
    p = subprocess.run([TICKD, "-c", w.conf, "--once", "-v"], capture_output=True, timeout=300)
    assert p.returncode == 0
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                    w.stack["STACK_DIR"], "60"], check=True, capture_output=True)
    ack = w.inbox(w.customer)[0]
    n = w.tickets()[0]["number"]
    reply = mail(w.addr("alice"), w.addr(w.customer), "Re: [Example #%d] Secret stuff" % n,
                 body="AGENTBODY-5512 here is your new password hunter2\n",
                 headers=["In-Reply-To: %s" % ack["Message-ID"]])
    w.append(reply)
    p2 = subprocess.run([TICKD, "-c", w.conf, "--once", "-v"], capture_output=True, timeout=300)
    assert p2.returncode == 0
    log = (p.stderr + p2.stderr).decode("utf-8", "replace")
    lines = log.splitlines()
    assert len(lines) >= 4, log
    for line in lines:
        assert LOG_LINE.match(line), line
    assert any(l.startswith("<5>loop: started") for l in lines)
    secret = open(os.path.join(w.dir, "secret")).read().strip()
    mac = ack["Message-ID"].strip("<>").split("@")[0].split(".")[-1]
    pw = w.stack["MAIL_PASSWORD"]
    for needle in (secret, mac, "BODYMARKER", "4111 1111", "AGENTBODY", "hunter2"):
        assert needle not in log, needle
    assert not re.search(r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(pw), log), pw
    # tickctl's own warnings obey the same shape
    p = ctl(w, "-v", "status")
    assert p.returncode == 0
    for line in p.stderr.splitlines():
        assert LOG_LINE.match(line), line
