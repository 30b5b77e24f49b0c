#!/usr/bin/env python3
"""Small stdlib helpers for tests/stack.sh (ports, readiness, sending mail).

  stackutil.py pick-ports OWNER_DIR N        claim N free TCP ports on 127.0.0.1, print them
  stackutil.py claim-ports OWNER_DIR P...    claim exactly these ports again (exit 1 if one is taken)
  stackutil.py release-ports OWNER_DIR P...  drop the claims of OWNER_DIR on ports P...
  stackutil.py port-free PORT                exit 0 if a server could listen on 127.0.0.1:PORT now
  stackutil.py wait-banner PORT PREFIX TIMEOUT [PID]
                                             wait until 127.0.0.1:PORT greets with PREFIX
                                             (gives up early if process PID died)
  stackutil.py lmtp-deliver PORT RCPT FILE   deliver FILE to RCPT over LMTP
  stackutil.py smtp-send PORT FROM TO FILE   send FILE over SMTP (FROM may be '' = <>)

Ports are picked below the kernel's ephemeral range (so an outgoing connection can
never sit on a port a stack wants to re-bind after stop-one), and claimed with an
atomic mkdir under /tmp/tickd-stack-ports/ so two stacks started at the same moment
never pick the same port.  A claim whose owner directory is gone is stale.
"""
import email
import email.utils
import os
import random
import re
import shutil
import smtplib
import socket
import sys
import time

CLAIMS = os.environ.get("TICKD_STACK_PORT_CLAIMS", "/tmp/tickd-stack-ports")
HOST = "127.0.0.1"


def port_free(port, reuse=False):
    """Can 127.0.0.1:PORT be listened on?  reuse=True answers it the way the servers
    (which all set SO_REUSEADDR) see it: old TIME_WAIT connections do not count."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((HOST, port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _claim(port, owner):
    path = os.path.join(CLAIMS, str(port))
    try:
        os.mkdir(path)
    except FileExistsError:
        try:
            with open(os.path.join(path, "owner")) as f:
                prev = f.read().strip()
        except OSError:
            # being written right now, or a crash between mkdir and write:
            # treat as taken unless it is old
            try:
                if time.time() - os.stat(path).st_mtime < 60:
                    return False
            except OSError:
                return False
            prev = ""
        if prev == owner:
            return True
        if prev and os.path.isdir(prev):
            return False
        # stale: owner dir vanished; take it over
        shutil.rmtree(path, ignore_errors=True)
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
    with open(os.path.join(path, "owner"), "w") as f:
        f.write(owner + "\n")
    return True


def pick_ports(owner, n):
    os.makedirs(CLAIMS, mode=0o1777, exist_ok=True)
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        eph_lo = 32768
    lo, hi = 15000, min(eph_lo - 1, 32767)
    if hi - lo < 500:
        lo, hi = 1025, eph_lo - 1
    rnd = random.SystemRandom()
    got = []
    for _ in range(5000):
        if len(got) == n:
            break
        p = rnd.randint(lo, hi)
        if p in got or not port_free(p):
            continue
        if _claim(p, owner):
            if port_free(p):
                got.append(p)
            else:
                release(owner, [p])
    if len(got) != n:
        release(owner, got)
        sys.exit("stackutil: could not find %d free ports" % n)
    return got


def release(owner, ports):
    for p in ports:
        path = os.path.join(CLAIMS, str(p))
        try:
            with open(os.path.join(path, "owner")) as f:
                if f.read().strip() != owner:
                    continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_banner(port, prefix, timeout, pid=None):
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        if pid and not pid_alive(pid):
            sys.exit("stackutil: process %d died before 127.0.0.1:%d answered" % (pid, port))
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                s.settimeout(5)
                data = b""
                while b"\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                line = data.decode("latin-1").strip()
                if line.startswith(prefix):
                    return line
                last = "greeting %r" % line
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    sys.exit("stackutil: 127.0.0.1:%d not ready after %ss (%s)" % (port, timeout, last))


def _read(path):
    with open(path, "rb") as f:
        data = f.read()
    # smtplib sends bytes as they are: normalise to CRLF, or a file ending in a bare LF
    # arrives with an extra empty line
    return re.sub(rb"\r?\n", b"\r\n", data)


def _sender_of(data):
    try:
        msg = email.message_from_bytes(data)
        addrs = email.utils.getaddresses(msg.get_all("From", []))
        if addrs and addrs[0][1]:
            return addrs[0][1]
    except Exception:
        pass
    return ""


def lmtp_deliver(port, rcpt, path, sender=None):
    data = _read(path)
    if "@" not in rcpt:
        rcpt += "@example.com"
    if sender is None:
        sender = os.environ.get("DELIVER_FROM", _sender_of(data))
    lm = smtplib.LMTP(HOST, port, timeout=30)
    try:
        refused = lm.sendmail(sender, [rcpt], data)
    finally:
        try:
            lm.quit()
        except Exception:
            pass
    if refused:
        sys.exit("stackutil: LMTP refused %r" % (refused,))


def smtp_send(port, sender, rcpt, path):
    data = _read(path)
    s = smtplib.SMTP(HOST, port, timeout=30)
    try:
        s.sendmail(sender, [r for r in rcpt.split(",") if r], data)
    finally:
        try:
            s.quit()
        except Exception:
            pass


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "pick-ports":
        print(" ".join(str(p) for p in pick_ports(os.path.abspath(args[0]), int(args[1]))))
    elif cmd == "claim-ports":
        owner = os.path.abspath(args[0])
        ports = [int(p) for p in args[1:]]
        os.makedirs(CLAIMS, mode=0o1777, exist_ok=True)
        ok = [p for p in ports if port_free(p, reuse=True) and _claim(p, owner)]
        if len(ok) != len(ports):
            release(owner, ok)
            sys.exit(1)
    elif cmd == "release-ports":
        release(os.path.abspath(args[0]), [int(p) for p in args[1:]])
    elif cmd == "port-free":
        sys.exit(0 if port_free(int(args[0]), reuse=True) else 1)
    elif cmd == "wait-banner":
        pid = int(args[3]) if len(args) > 3 and args[3] else None
        wait_banner(int(args[0]), args[1], float(args[2]), pid)
    elif cmd == "lmtp-deliver":
        lmtp_deliver(int(args[0]), args[1], args[2])
    elif cmd == "smtp-send":
        smtp_send(int(args[0]), args[1], args[2], args[3])
    else:
        sys.exit("stackutil: unknown command %r\n%s" % (cmd, __doc__))


if __name__ == "__main__":
    main(sys.argv)
