#!/usr/bin/env python3
"""gen.py - realistic support mails for `make bench` (python3 stdlib only).

    python3 tests/bench/gen.py [--n N] [--seed S] [--to ADDR] OUTDIR

Writes N raw mails (CRLF, 2-8 KB each) as OUTDIR/NNNNNN.eml.  As a module,
new_mails() and replies() give (message_id, from, raw bytes) tuples.

The mix, from a few hundred customers at a handful of companies:
  50 %  text/plain
  30 %  multipart/alternative, text/plain + text/html
  20 %  multipart/mixed with a small attachment (PDF-ish or PNG-ish bytes,
        1-4 KB, base64)
Replies (replies()) answer earlier mails of the same customer with
In-Reply-To/References and "Re: <subject>", so they thread into the
ticket, and quote the original like a mail client does.
"""
import argparse
import base64
import email.utils
import os
import random
import sys
import textwrap
import time

FIRST = ["Anna", "Ben", "Carla", "David", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Karin", "Lars", "Maria", "Nils", "Olga", "Paul", "Rosa", "Sven", "Tina", "Umut"]
LAST = ["Meier", "Schmidt", "Rossi", "Nowak", "Dubois", "Jensen", "Silva", "Novak", "Kaya",
        "Berg", "Fischer", "Lopez"]
COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne",
             "tyrell", "cyberdyne", "wonka", "soylent"]
TOPICS = [
    ("Cannot log in", "I cannot log in since this morning. The page says my password is wrong, "
     "but I reset it twice."),
    ("Invoice %d is wrong", "the invoice we received charges us for 12 seats, but we only have "
     "9 users. Could you correct it?"),
    ("Export to CSV fails", "When I export the monthly report to CSV the download stops at "
     "about 80 percent and the file is empty."),
    ("Question about the API rate limit", "we are hitting HTTP 429 responses from the API "
     "although we send far fewer than the documented 100 requests per minute."),
    ("Order %d not delivered", "our order was confirmed two weeks ago but nothing has arrived. "
     "The tracking link shows no movement since Monday."),
    ("Printer driver for Windows 11", "the driver from your download page does not install on "
     "Windows 11; the installer ends with error 0x80070005."),
    ("Change of billing address", "please use our new billing address from next month on. "
     "The old one in Hamburg is no longer valid."),
    ("Feature request: dark mode", "several of our staff work at night and would love a dark "
     "theme in the web interface."),
    ("Urgent: production system down", "our production instance returns error 502 for every "
     "request since 06:40 UTC. This blocks our whole warehouse."),
    ("Cancel subscription", "we would like to cancel our subscription at the end of the "
     "current term. Please confirm the date."),
]
FILLER = ("We tried clearing the browser cache, a different browser and another computer, "
          "with the same result. Our IT department checked the firewall and sees nothing "
          "blocked. The problem started after the update last week, as far as we can tell. "
          "Screenshots and the log excerpt are below; let me know if you need anything else. ")
LOG = ["2026-11-23 08:14:%02d ERROR session %08x: token expired (code 401)",
       "2026-11-23 08:15:%02d WARN  retrying upstream request %08x",
       "2026-11-23 08:15:%02d INFO  user agent Mozilla/5.0 build %08x"]
SIGS = ["Best regards", "Kind regards", "Thanks in advance", "Cheers", "Mit freundlichen Gruessen"]


def customers(rnd, n=300):
    out = []
    for i in range(n):
        f, l, c = rnd.choice(FIRST), rnd.choice(LAST), rnd.choice(COMPANIES)
        out.append(("%s %s" % (f, l), "%s.%s%d@%s.example" % (f.lower(), l.lower(), i, c)))
    return out


def _body(rnd, name, text, size):
    parts = ["Hello,", "", text]
    while sum(len(p) for p in parts) < size:
        if rnd.random() < 0.3:
            parts.append("\n".join(LOG[k % 3] % (rnd.randrange(60), rnd.getrandbits(32))
                                   for k in range(rnd.randrange(2, 6))))
        else:
            parts.append(textwrap.fill(FILLER, 72))
        parts.append("")
    parts += ["", "%s," % rnd.choice(SIGS), name]
    return "\n".join(parts)


def _html(text):
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    paras = "".join("<p>%s</p>\n" % p.replace("\n", "<br>") for p in esc.split("\n\n"))
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>p{font-family:Arial}"
            "</style></head><body>\n%s</body></html>\n" % paras)


def _b64(data):
    return "\r\n".join(textwrap.wrap(base64.b64encode(data).decode(), 76))


def _crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def build(rnd, msgid, frm_name, frm, to, subject, text, kind, extra_headers=(), when=None):
    """One raw mail as bytes (CRLF).  when: its Date (unix seconds); default
    within the last hour, so that tickd's age guard (limits.max_mail_age)
    treats it as new mail."""
    if when is None:
        when = time.time() - rnd.randrange(3600)
    date = email.utils.formatdate(when)
    h = ["Return-Path: <%s>" % frm,
         "Received: from mx.%s (mx.%s [192.0.2.%d]) by mail.example.com with ESMTPS id %08X; "
         "%s" % (frm.split("@")[1], frm.split("@")[1], rnd.randrange(1, 254),
                 rnd.getrandbits(32), date),
         "From: \"%s\" <%s>" % (frm_name, frm), "To: %s" % to, "Subject: %s" % subject,
         "Date: %s" % date,
         "Message-ID: %s" % msgid, "MIME-Version: 1.0",
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Thunderbird/115.5.0"]
    h += list(extra_headers)
    if kind == "plain":
        h += ["Content-Type: text/plain; charset=utf-8; format=flowed",
              "Content-Transfer-Encoding: 8bit"]
        body = text
    elif kind == "html":
        b = "b1_%x" % rnd.getrandbits(64)
        h += ["Content-Type: multipart/alternative; boundary=\"%s\"" % b]
        body = ("This is a multi-part message in MIME format.\n--%s\nContent-Type: text/plain; "
                "charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s\n--%s\nContent-Type: "
                "text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s\n--%s--\n"
                % (b, text, b, _html(text), b))
    else:
        b = "b2_%x" % rnd.getrandbits(64)
        if rnd.random() < 0.5:
            name, ctype = "screenshot.png", "image/png"
            data = b"\x89PNG\r\n\x1a\n" + rnd.randbytes(rnd.randrange(1000, 3000))
        else:
            name, ctype = "invoice.pdf", "application/pdf"
            data = b"%PDF-1.4\n" + rnd.randbytes(rnd.randrange(1000, 3000))
        h += ["Content-Type: multipart/mixed; boundary=\"%s\"" % b]
        body = ("--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit"
                "\n\n%s\n--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; "
                "filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n%s\n--%s--\n"
                % (b, text, b, ctype, name, name, _b64(data), b))
    return _crlf("\n".join(h) + "\n\n" + body).encode()


def _kind(rnd):
    x = rnd.random()
    return "plain" if x < 0.5 else ("html" if x < 0.8 else "attach")


def new_mails(n, seed=1, to="support@example.com", tag="b", span=0):
    """n first mails: [(message_id, from_addr, subject, raw)].  span:
    their Dates spread over that many seconds before now, oldest first
    (0: within the last hour, in random order)."""
    rnd = random.Random(seed)
    now = time.time()
    people = customers(rnd)
    out = []
    for i in range(n):
        name, addr = rnd.choice(people)
        subj, text = rnd.choice(TOPICS)
        if "%d" in subj:
            subj = subj % rnd.randrange(10000, 99999)
        kind = _kind(rnd)
        # text sizes that make 2-8 KB mails: HTML doubles the text, the
        # attachment adds 1.3-4 KB of base64
        size = {"plain": (1500, 7000), "html": (900, 3300), "attach": (400, 2500)}[kind]
        size = rnd.randrange(*size)
        msgid = "<%s.%d.%x@%s>" % (tag, i, rnd.getrandbits(40), addr.split("@")[1])
        when = now - span + span * i / max(n, 1) if span else None
        raw = build(rnd, msgid, name, addr, to, subj, _body(rnd, name, text, size), kind,
                    when=when)
        out.append((msgid, addr, subj, raw, name))
    return out


def replies(originals, n, seed=2, to="support@example.com"):
    """n replies to mails in originals (same sender, threads by
    In-Reply-To/References): [(message_id, from_addr, subject, raw)]."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        omid, addr, subj, oraw, name = originals[rnd.randrange(len(originals))]
        otext = oraw.split(b"\r\n\r\n", 1)[1][:1500].decode("utf-8", "replace")
        quoted = "\n".join("> " + l for l in otext.replace("\r\n", "\n").split("\n"))
        text = ("Hello again,\n\nany news on this? %s\n\n%s,\n%s\n\nOn Monday, %s wrote:\n%s"
                % (textwrap.fill(FILLER[:rnd.randrange(80, len(FILLER))], 72),
                   rnd.choice(SIGS), name, name, quoted))
        msgid = "<r.%d.%x@%s>" % (i, rnd.getrandbits(40), addr.split("@")[1])
        raw = build(rnd, msgid, name, addr, to, "Re: " + subj, text,
                    "plain" if rnd.random() < 0.7 else "html",
                    ["In-Reply-To: %s" % omid, "References: %s" % omid])
        out.append((msgid, addr, "Re: " + subj, raw, name))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--to", default="support@example.com")
    ap.add_argument("outdir")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    sizes = []
    for i, m in enumerate(new_mails(a.n, a.seed, a.to)):
        with open(os.path.join(a.outdir, "%06d.eml" % i), "wb") as f:
            f.write(m[3])
        sizes.append(len(m[3]))
    print("%d mails, %d-%d bytes, mean %d" % (len(sizes), min(sizes), max(sizes),
                                               sum(sizes) // len(sizes)), file=sys.stderr)


if __name__ == "__main__":
    main()
