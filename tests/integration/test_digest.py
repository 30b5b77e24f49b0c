"""The managers' digest as a person reads it (issue 25), on the real
servers: what needs the manager first (breaches, bad ratings, escalations,
waits) on a phone's first screen, trends whose values are `tickctl report
--json` day by day, a manager who sees only their queue, and the signed
mailto action links followed through OpenSMTPD and Dovecot (a tampered
one does nothing)."""
import datetime
import email
import html
import email.policy
import json
import os
import re
import shutil
import smtplib
import struct
import subprocess
import tempfile
import urllib.parse
import uuid
import zlib

import pytest

from conftest import ROOT, TICKD, imapbox, mail

AUTHSERV = "mx.example.com"
ALWAYS = """
calendars = ( { name = "always"; timezone = "UTC";
                hours = { mon = "00:00-24:00"; tue = "00:00-24:00"; wed = "00:00-24:00";
                          thu = "00:00-24:00"; fri = "00:00-24:00"; sat = "00:00-24:00";
                          sun = "00:00-24:00"; }; } );
sla: { policies = ( { calendar = "always"; first_response = 60; resolution = 480; } ); };
agents: { authserv_id = "%s"; };
""" % AUTHSERV
REPORT = 'report: { daily = true; hour = 0; timezone = "UTC"; };\n'
KPIS = ("created", "resolved", "backlog", "first_response_median_s", "resolution_median_s",
        "sla_met_pct", "csat_pct", "reopen_pct")


def _append_conf(world, text):
    with open(world.conf, "a") as f:
        f.write(text)


def _part(msg, ctype):
    for p in msg.walk():
        if p.get_content_type() == ctype:
            return p.get_content().replace("\r\n", "\n")
    return None


def _digest(world, user):
    """Run the tick that queues the digest; the manager's one digest."""
    world.once()
    box = [m for m in world.inbox(user) if "support report" in m["Subject"]]
    assert len(box) == 1, [m["Subject"] for m in world.inbox(user)]
    return box[0]


def _values(page):
    """{kpi: [value or None per day]} from the charts' data-values."""
    out = {}
    for kpi, vals in re.findall(r'data-kpi="([a-z_]+)" data-values="([^"]*)"', page):
        out[kpi] = [None if v == "" else float(v) for v in vals.split(",")]
    return out


def _week(world, days=7):
    """A generated week of history (UTC days before today): per day 3
    tickets, one resolved after 2 h with a reply after 30 min, one open
    with a reply, one open without any (breaching its 60-minute first
    response); bad and good ratings and escalations in the last day."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    rows, n = [], 3000
    for k in range(days, 0, -1):
        d = (today - datetime.timedelta(days=k)).isoformat()
        for i, kind in enumerate(("done", "replied", "silent")):
            n += 1
            h = 8 + 2 * i + k % 3
            if kind == "done":
                rows.append("(%d, 'support', 'Done %d', 'c%d@c.example', 'resolved', "
                            "'alice@example.com', '%s %02d:00Z', '%s %02d:30Z', '%s %02d:30Z', "
                            "'%s %02d:00Z', '%s %02d:00Z')" % (n, n, n, d, h, d, h, d, h, d, h, d, h + 2))
            elif kind == "replied":
                rows.append("(%d, 'support', 'Replied %d', 'c%d@c.example', 'open', "
                            "'alice@example.com', '%s %02d:00Z', '%s %02d:45Z', '%s %02d:45Z', "
                            "'%s %02d:00Z', NULL)" % (n, n, n, d, h, d, h, d, h, d, h))
            else:
                rows.append("(%d, 'support', 'Silent %d', 'c%d@c.example', 'open', NULL, "
                            "'%s %02d:00Z', NULL, NULL, '%s %02d:00Z', NULL)" % (n, n, n, d, h, d, h))
    world.sql("INSERT INTO ticket (id, queue, subject, requester, status, assignee, created, "
              "first_response_at, last_agent_at, last_customer_at, resolved_at) VALUES "
              + ", ".join(rows))
    return today


def _chromium(html_path, out_dir, width=390, height=900, dump=False):
    exe = shutil.which("chromium")
    assert exe, "chromium missing: run tests/deps.sh"
    prof = tempfile.mkdtemp(dir=out_dir)
    png = os.path.join(out_dir, "shot-%d.png" % width)
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=%s" % prof, "--window-size=%d,%d" % (width, height)]
    args += ["--virtual-time-budget=3000", "--dump-dom"] if dump else ["--screenshot=%s" % png]
    p = subprocess.run(args + ["file://" + html_path], capture_output=True, timeout=120,
                       cwd=out_dir)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    return p.stdout.decode() if dump else png


def _png_read(path):
    """(width, height, colour type, the inflated IDAT bytes) of a
    non-interlaced 8-bit RGB or RGBA PNG, as headless Chromium writes."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
    idat, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return w, h, ctype, zlib.decompress(idat)


def _png_stats(path):
    """(width, height, distinct byte values, share of non-white rows)."""
    w, h, ctype, raw = _png_read(path)
    bpp = {2: 3, 6: 4}[ctype]
    stride = 1 + w * bpp
    # unfiltered data is not needed: a row whose filtered bytes are all
    # zero after the filter byte is a row of the same colour as above
    busy = sum(1 for y in range(h) if any(raw[y * stride + 1:(y + 1) * stride]))
    return w, h, len(set(raw[::5])), busy / h


def _probe(page, out_dir, width, height, name, collect):
    """Run the JavaScript statements collect (filling r from d, the page's
    document) on page shown in an iframe of width x height (headless
    Chromium's own window is at least 500 px wide), from an outer page:
    the page itself has no script.  Returns r, with r["inner"] checked to
    be width."""
    probe = """<!DOCTYPE html><html><body style="margin:0"><iframe id="f" style="border:0"
width="%d" height="%d" srcdoc="%s"></iframe><script>
window.addEventListener('load', function () {
  var d = document.getElementById('f').contentDocument, r = {};
%s
  r.inner = d.defaultView.innerWidth;
  document.body.setAttribute('data-probe', JSON.stringify(r));
});
</script></body></html>""" % (width, height, html.escape(page, quote=True), collect)
    path = os.path.join(out_dir, "%s-%d.html" % (name, width))
    with open(path, "w") as f:
        f.write(probe)
    dom = _chromium(path, out_dir, width=max(width, 500), dump=True)
    m = re.search(r"data-probe=\"([^\"]+)\"", dom)
    assert m, dom[-500:]
    r = json.loads(m.group(1).replace("&quot;", '"'))
    assert r["inner"] == width, r
    return r


def _layout(page, out_dir, width):
    """Where the sections end up at width (the bottom of each data-kind)."""
    return _probe(page, out_dir, width, 900, "probe", """\
  d.querySelectorAll('[data-kind]').forEach(function (e) {
    var k = e.getAttribute('data-kind'), b = e.getBoundingClientRect();
    r[k] = Math.max(r[k] || 0, b.bottom);
  });
  r.width = d.documentElement.scrollWidth;""")


def test_busy_week_first_screen_and_trends(make_world):
    mgr = "mgr" + uuid.uuid4().hex[:8]
    w = make_world(people='{ address = "%s@example.com"; name = "Mary Manager"; '
                          'role = "manager"; }, { address = "alice@example.com"; '
                          'name = "Alice"; role = "agent"; }' % mgr, extra=ALWAYS)
    today = _week(w)
    # the tick evaluates the SLA clocks: the silent tickets are in breach
    w.once()
    breached = w.sql("SELECT string_agg(ticket_id::text, ',' ORDER BY ticket_id) FROM sla_clock "
                     "WHERE view->'first_response'->>'breached' = 'true'")
    assert breached, w.sql("SELECT view FROM sla_clock LIMIT 3")
    silent = [int(x) for x in breached.split(",")]
    # the last day: two bad ratings with comments, a good one, escalations.
    # Today's, also when the test runs just after midnight (UTC): hours
    # back from now() would then be yesterday's, the day charted below.
    def ago(h):
        return "greatest(now() - interval '%d hours', date_trunc('day', now(), 'UTC'))" % h
    w.sql("""
      INSERT INTO csat_rating (ticket_id, rating, comment, at) VALUES
        (3001, 'bad', 'Nobody answered my second question', %s),
        (3004, 'bad', 'Three mails to get a refund', %s),
        (3007, 'good', 'Thanks', %s),
        (3019, 'okay', 'Took a while', '%s 12:00Z');
      INSERT INTO event (ticket_id, at, actor, action, detail) VALUES
        (%d, %s, 'tickd', 'escalated',
         'level 2: first_response breached -> boss@example.com');
    """ % (ago(2), ago(5), ago(3), (today - datetime.timedelta(days=1)).isoformat(),
           silent[-1], ago(1)))
    _append_conf(w, REPORT)
    dg = _digest(w, mgr)
    text, page = _part(dg, "text/plain"), _part(dg, "text/html")
    with open(os.path.join(w.dir, "digest.txt"), "w") as f:
        f.write(text)

    # 1. what needs the manager comes first, in this order
    order = [text.index(s) for s in ("NEEDS YOU", "In breach (", "Bad ratings (2)",
                                     "Escalations (1)", "TRENDS", "WORKLOAD")]
    assert order == sorted(order), text[:3000]
    assert "Nobody answered my second question" in text
    assert "Three mails to get a refund" in text
    assert "Thanks" not in text and "Took a while" not in text  # not bad
    assert "level 2: first response breached" in text  # addressees left out
    # five per section; the rest is counted, not listed
    more = re.search(r"In breach \((\d+)\)\n(?:.*\n)*?  \.\.\. and (\d+) more \(tickctl tickets\)", text)
    assert more and int(more.group(1)) - 5 == int(more.group(2)), text[:1500]
    assert "... and %s more (tickctl tickets)" % more.group(2) in page
    first = page.index('id="needs"')
    for n in silent[:2]:  # the latest due, i.e. most late, are listed (5 at most)
        assert 'data-ticket="%d"' % n in page
    assert page.index('data-kind="0"') < page.index('data-kind="2"') < page.index('id="trends"')
    assert first < page.index('data-kind="0"')
    assert re.search(r"\d+ d( \d+ h)? late \(first response\)", text)
    assert "Act by mail: <mailto:" in text and 'href="mailto:' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<img" not in page and "<link" not in page
    assert re.search(r"\d+% of \d+", text) and not re.search(r"\dh\d\dm\d\ds", text)

    # the first screen of a phone holds the breaches and the bad ratings,
    # and nothing is wider than the screen; the desktop view is one column
    html_path = os.path.join(w.dir, "digest.html")
    with open(html_path, "w") as f:
        f.write(page)
    lay = _layout(page, w.dir, 390)
    assert lay["0"] <= 900 and lay["2"] <= 900, lay
    assert lay["width"] <= 390, lay  # no sideways scrolling
    assert _layout(page, w.dir, 1280)["width"] <= 1280
    png = _chromium(html_path, w.dir)
    pw, ph, distinct, busy = _png_stats(png)
    assert (pw, ph) == (390, 900)
    assert distinct > 20 and busy > 0.3, (distinct, busy)  # text, not a blank page
    keep = os.environ.get("TICKD_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)

    # 2. every chart's values are `tickctl report --json` of each day
    vals = _values(page)
    assert sorted(vals) == sorted(KPIS)
    for i in range(7):
        d = today - datetime.timedelta(days=7 - i)
        rep = json.loads(w.ctl("report", "--json", "--from", d.isoformat(),
                               "--to", (d + datetime.timedelta(days=1)).isoformat()).stdout)
        cur = rep["groups"][0]["current"]
        for k in KPIS:
            assert vals[k][i] == cur[k], (d, k, vals[k], cur[k])
    assert vals["created"] == [3.0] * 7  # not vacuous
    assert vals["csat_pct"][6] == 0.0  # yesterday's one "okay"

    # tickctl report --html: the same renderer, one self-contained page
    out = os.path.join(w.dir, "report.html")
    w.ctl("report", "--html", out, "--from", (today - datetime.timedelta(days=1)).isoformat(),
          "--to", today.isoformat())
    mine = open(out).read()
    assert _values(mine) == vals
    assert "Nobody answered my second question" in mine

    # a week-long period: 8 weekly bars, each what --json says of its week
    week = os.path.join(w.dir, "week.html")
    w.ctl("report", "--html", week, "--from", (today - datetime.timedelta(days=7)).isoformat(),
          "--to", today.isoformat())
    wv = _values(open(week).read())
    assert len(wv["created"]) == 8 and wv["created"][-1] == 21.0
    for i in (5, 6, 7):
        end = today - datetime.timedelta(days=7 * (7 - i))
        rep = json.loads(w.ctl("report", "--json", "--from",
                               (end - datetime.timedelta(days=7)).isoformat(),
                               "--to", end.isoformat()).stdout)
        cur = rep["groups"][0]["current"]
        for k in KPIS:
            assert wv[k][i] == cur[k], (end, k, wv[k], cur[k])


def _png_pixels(path):
    """(width, height, rows of RGB tuples) of a non-interlaced 8-bit PNG:
    the filters undone, so that a pixel is a colour."""
    w, h, ctype, raw = _png_read(path)
    bpp = {2: 3, 6: 4}[ctype]
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, [[tuple(r[x * bpp:x * bpp + 3]) for x in range(w)] for r in rows]


def _chart_rects(page, out_dir, width):
    """{data-chart: (left, top, width, height)} and the page's height at
    width; the iframe is as tall as the page, so neither view has a scroll
    bar."""
    return _probe(page, out_dir, width, 20000, "charts", """\
  d.querySelectorAll('[data-chart]').forEach(function (e) {
    var b = e.getBoundingClientRect();
    r[e.getAttribute('data-chart')] = [b.left, b.top, b.width, b.height];
  });
  r.height = d.documentElement.scrollHeight;""")


def _chart_rows(page):
    """{"queue:created": {name: value or None}, ...} of the report page."""
    out = {}
    for chart, body in re.findall(r'<table data-chart="([a-z0-9_]+:[a-z0-9_]+)"[^>]*>(.*?)</table>',
                                  page, re.S):
        out[chart] = {html.unescape(n): None if v == "" else float(v)
                      for n, v in re.findall(r'<tr data-name="([^"]*)" data-value="([^"]*)"', body)}
    return out


def test_report_page_charts(make_world):
    """tickctl report --html: volume by day, every KPI per queue and per
    agent, each number what `tickctl report --json` says; rendered by
    headless Chromium at a phone's and a desktop's width with ink in
    every chart's area."""
    billing = "billing" + uuid.uuid4().hex[:6]
    w = make_world(people='{ address = "alice@example.com"; name = "Alice"; }, '
                          '{ address = "bob@example.com"; name = "Bob"; }',
                   extra=ALWAYS + 'queues = ( { name = "support"; }, { name = "billing"; '
                   'user = "%s"; subject_tag = "Billing"; } );\n' % billing)
    today = _week(w)
    # billing: per day one ticket of bob's, answered after 20 min and
    # resolved after 5 h; two ratings
    rows = []
    for k in range(7, 0, -1):
        d = (today - datetime.timedelta(days=k)).isoformat()
        n = 6000 + k
        rows.append("(%d, 'billing', 'Bill %d', 'b%d@c.example', 'resolved', 'bob@example.com', "
                    "'%s 09:00Z', '%s 09:20Z', '%s 09:20Z', '%s 09:00Z', '%s 14:00Z')"
                    % (n, n, n, d, d, d, d, d))
    w.sql("INSERT INTO ticket (id, queue, subject, requester, status, assignee, created, "
          "first_response_at, last_agent_at, last_customer_at, resolved_at) VALUES "
          + ", ".join(rows) + "; INSERT INTO csat_rating (ticket_id, rating, at) VALUES "
          "(6001, 'good', '%(y)sT20:00Z'), (3001, 'bad', '%(y)sT21:00Z')"
          % {"y": (today - datetime.timedelta(days=1)).isoformat()})
    frm = (today - datetime.timedelta(days=7)).isoformat()
    out = os.path.join(w.dir, "report.html")
    w.ctl("report", "--html", out, "--from", frm, "--to", today.isoformat())
    page = open(out).read()
    rep = json.loads(w.ctl("report", "--json", "--from", frm, "--to", today.isoformat()).stdout)

    # no script, nothing from the network, inline SVG only
    assert "<script" not in page.lower() and "<img" not in page and "<link" not in page
    assert "https://" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")

    # every chart per queue and per agent, each row the --json value
    charts = _chart_rows(page)
    keys = ("created", "resolved", "backlog", "backlog_age_median_s", "first_response_median_s",
            "first_response_p90_s", "resolution_median_s", "resolution_p90_s", "sla_met_pct",
            "csat_pct")
    assert sorted(charts) == sorted("%s:%s" % (g, k) for g in ("queue", "agent") for k in keys)
    groups = {(g["group"], g["name"]): g["current"] for g in rep["groups"]}
    for chart, vals in charts.items():
        kind, key = chart.split(":")
        want = {name: cur[key] for (gk, name), cur in groups.items() if gk == kind}
        assert vals == want, (chart, vals, want)
    # not vacuous: the hand-made figures
    assert charts["queue:created"] == {"billing": 7, "support": 21}
    assert charts["queue:first_response_median_s"]["billing"] == 1200
    assert charts["queue:resolution_median_s"]["billing"] == 5 * 3600
    assert charts["agent:created"]["bob@example.com"] == 7
    assert charts["queue:csat_pct"] == {"billing": 100.0, "support": 0.0}

    # volume by day: each day's created and resolved as --json says
    m = re.search(r'data-chart="volume"[^>]*data-labels="([^"]*)" data-created="([^"]*)" '
                  r'data-resolved="([^"]*)"', page)
    assert m, page[:500]
    labels = m.group(1).split(",")
    created = [int(x) for x in m.group(2).split(",")]
    resolved = [int(x) for x in m.group(3).split(",")]
    assert len(labels) == 7 and created == [4] * 7, (labels, created)
    for i, lab in enumerate(labels):
        d = datetime.date.fromisoformat(lab)
        day = json.loads(w.ctl("report", "--json", "--from", d.isoformat(), "--to",
                               (d + datetime.timedelta(days=1)).isoformat()).stdout)
        cur = day["groups"][0]["current"]
        assert (created[i], resolved[i]) == (cur["created"], cur["resolved"]), lab

    # rendered: at 390 px and 1280 px nothing is wider than the screen,
    # and every chart's area holds the bars' colours (not blank)
    bars = {(0x2b, 0x6c, 0xb0), (0x90, 0xcd, 0xf4)}
    for width in (390, 1280):
        r = _chart_rects(page, w.dir, width)
        height = int(r["height"]) + 10
        prof = tempfile.mkdtemp(dir=w.dir)
        png = os.path.join(w.dir, "report-%d.png" % width)
        p = subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox",
                            "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                            "--force-device-scale-factor=1", "--user-data-dir=%s" % prof,
                            "--window-size=%d,%d" % (width, height), "--screenshot=%s" % png,
                            "file://" + out], capture_output=True, timeout=120, cwd=w.dir)
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        pw, ph, px = _png_pixels(png)
        assert (pw, ph) == (width, height)
        for chart in ["volume"] + ["%s:%s" % (g, k) for g in ("queue", "agent") for k in keys]:
            x, y, cw, ch = (int(round(v)) for v in r[chart])
            assert 0 <= x and x + cw <= width and ch > 0, (width, chart, r[chart])
            area = [px[yy][xx] for yy in range(y, min(y + ch, ph)) for xx in range(x, x + cw)]
            ink = sum(1 for c in area if c in bars)
            # the volume chart is mostly bars; a KPI table has a bar per row
            assert ink > (0.3 if chart == "volume" else 0.01) * len(area), \
                (width, chart, ink, len(area))
        keep = os.environ.get("TICKD_SCREENSHOT")
        if keep:
            shutil.copy(png, "%s-%d.png" % (keep, width))


def test_quiet_day_is_short(make_world):
    mgr = "mgr" + uuid.uuid4().hex[:8]
    w = make_world(people='{ address = "%s@example.com"; name = "Mary"; role = "manager"; }'
                   % mgr, extra=ALWAYS + REPORT)
    dg = _digest(w, mgr)
    text, page = _part(dg, "text/plain"), _part(dg, "text/html")
    assert "All quiet" in text and 'id="quiet"' in page
    for s in ("In breach", "Bad ratings", "Escalations", "Waiting longest", "WORKLOAD"):
        assert s not in text
    assert len(text.splitlines()) <= 25, text
    assert len(page) < 16000, len(page)


def test_manager_sees_only_their_queue(make_world):
    mary, sam = "mary" + uuid.uuid4().hex[:6], "sam" + uuid.uuid4().hex[:6]
    billing = "billing" + uuid.uuid4().hex[:6]
    w = make_world(people='{ address = "%s@example.com"; name = "Mary"; role = "manager"; '
                          'queues = [ "billing" ]; }, { address = "%s@example.com"; '
                          'name = "Sam"; role = "manager"; }' % (mary, sam),
                   extra=ALWAYS + 'queues = ( { name = "support"; }, { name = "billing"; '
                   'user = "%s"; subject_tag = "Billing"; } );\n' % billing)
    d = (datetime.datetime.now(datetime.timezone.utc).date()
         - datetime.timedelta(days=1)).isoformat()
    w.sql("""INSERT INTO ticket (id, queue, subject, requester, status, created, last_customer_at)
             VALUES (4001, 'billing', 'Invoice twice', 'x@c.example', 'open', '%s 09:00Z', '%s 09:00Z'),
                    (4002, 'support', 'Printer', 'y@c.example', 'open', '%s 10:00Z', '%s 10:00Z'),
                    (4003, 'support', 'Scanner', 'z@c.example', 'open', '%s 11:00Z', '%s 11:00Z');
             INSERT INTO csat_rating (ticket_id, rating, comment, at) VALUES
                    (4002, 'bad', 'support queue comment', now() - interval '1 hour');
          """ % ((d,) * 6))
    _append_conf(w, REPORT)
    w.once()
    mine = [m for m in w.inbox(mary) if "support report" in m["Subject"]]
    his = [m for m in w.inbox(sam) if "support report" in m["Subject"]]
    assert len(mine) == 1 and len(his) == 1
    mt, st = _part(mine[0], "text/plain"), _part(his[0], "text/plain")
    assert "For: queue billing" in mt and "For: all queues" in st
    assert "#4001" in mt and "#4002" not in mt and "#4003" not in mt
    assert "support queue comment" not in mt and "support queue comment" in st
    assert "#4001" in st and "#4002" in st
    mv = _values(_part(mine[0], "text/html"))
    sv = _values(_part(his[0], "text/html"))
    rep = json.loads(w.ctl("report", "--json", "--queue", "billing", "--from", d,
                           "--to", (datetime.date.fromisoformat(d)
                                    + datetime.timedelta(days=1)).isoformat()).stdout)
    assert mv["created"][6] == rep["groups"][0]["current"]["created"] == 1
    assert sv["created"][6] == 3


def test_manager_sees_only_their_teams(make_world):
    """people.*.teams: a manager of team L1 gets the tickets assigned to
    the people of L1, in any queue, and nothing else; one with a queue
    and a team gets either; the figures are those of that scope."""
    tina, quinn = "tina" + uuid.uuid4().hex[:6], "quinn" + uuid.uuid4().hex[:6]
    billing = "billing" + uuid.uuid4().hex[:6]
    people = ('{ address = "alice@example.com"; team = "L1"; }, '
              '{ address = "bob@example.com"; team = "L2"; }, '
              '{ address = "carol@example.com"; team = "L1"; }, '
              '{ address = "%s@example.com"; name = "Tina"; role = "manager"; '
              'teams = [ "L1" ]; }, '
              '{ address = "%s@example.com"; name = "Quinn"; role = "manager"; '
              'queues = [ "billing" ]; teams = [ "L2" ]; }' % (tina, quinn))
    w = make_world(people=people,
                   extra=ALWAYS + 'queues = ( { name = "support"; }, { name = "billing"; '
                   'user = "%s"; subject_tag = "Billing"; } );\n' % billing)
    d = (datetime.datetime.now(datetime.timezone.utc).date()
         - datetime.timedelta(days=1)).isoformat()
    w.sql("""INSERT INTO ticket (id, queue, subject, requester, status, assignee, created,
                                 last_customer_at) VALUES
             (5001, 'support', 'Alice support', 'a@c.example', 'open', 'alice@example.com',
              '%(d)s 09:00Z', '%(d)s 09:00Z'),
             (5002, 'support', 'Bob support', 'b@c.example', 'open', 'bob@example.com',
              '%(d)s 10:00Z', '%(d)s 10:00Z'),
             (5003, 'billing', 'Carol billing', 'c@c.example', 'open', 'carol@example.com',
              '%(d)s 11:00Z', '%(d)s 11:00Z'),
             (5004, 'support', 'Nobody support', 'd@c.example', 'open', NULL,
              '%(d)s 12:00Z', '%(d)s 12:00Z'),
             (5005, 'billing', 'Nobody billing', 'e@c.example', 'open', NULL,
              '%(d)s 13:00Z', '%(d)s 13:00Z');
          INSERT INTO csat_rating (ticket_id, rating, comment, at) VALUES
             (5002, 'bad', 'bob ticket comment', now() - interval '1 hour'),
             (5001, 'bad', 'alice ticket comment', now() - interval '1 hour');
          """ % {"d": d})
    _append_conf(w, REPORT)
    w.once()
    t = [m for m in w.inbox(tina) if "support report" in m["Subject"]]
    q = [m for m in w.inbox(quinn) if "support report" in m["Subject"]]
    assert len(t) == 1 and len(q) == 1
    tt, qt = _part(t[0], "text/plain"), _part(q[0], "text/plain")
    assert "For: team L1" in tt
    assert "For: queue billing and team L2" in qt
    # team L1: alice's and carol's tickets, whatever their queue
    assert "#5001" in tt and "#5003" in tt
    assert "#5002" not in tt and "#5004" not in tt and "#5005" not in tt
    assert "alice ticket comment" in tt and "bob ticket comment" not in tt
    # billing or team L2: carol's billing ticket, the unassigned billing
    # one, bob's support ticket; not alice's support ticket
    assert "#5002" in qt and "#5003" in qt and "#5005" in qt
    assert "#5001" not in qt and "#5004" not in qt
    assert "bob ticket comment" in qt and "alice ticket comment" not in qt
    # the trend's last day counts the same scope
    tv = _values(_part(t[0], "text/html"))
    qv = _values(_part(q[0], "text/html"))
    assert tv["created"][6] == 2 and qv["created"][6] == 3
    # workload: only the team's people (and the scope's unassigned)
    th = _part(t[0], "text/html")
    assert "alice@example.com" in th and "bob@example.com" not in th

    # a team nobody is in is a config error with file:line
    _append_conf(w, "")
    conf = open(w.conf).read().replace('teams = [ "L1" ]', 'teams = [ "L9" ]')
    with open(w.conf, "w") as f:
        f.write(conf)
    p = w.ctl("status", check=False)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert re.search(r"%s:\d+: people\.teams: no person has team = \"L9\"" %
                     re.escape(w.conf), err), err


def _send(w, frm, subject, body, headers=()):
    """Compose the mail a mailto: link describes and send it through the
    stack's OpenSMTPD to the support mailbox, like a mail client would."""
    raw = mail(frm, w.addr(w.support), subject, body=body, headers=list(headers))
    with smtplib.SMTP(w.stack["SMTP_HOST"], int(w.stack["SMTP_PORT"]), timeout=30) as s:
        s.sendmail(frm, [w.addr(w.support)], raw.encode())
    subprocess.run([os.path.join(ROOT, "tests", "stack.sh"), "wait-delivered",
                    w.stack["STACK_DIR"], "60"], check=True, capture_output=True)


def _mailto(link):
    u = urllib.parse.urlparse(link)
    q = urllib.parse.parse_qs(u.query)
    return u.path, q["subject"][0], q["body"][0]


def test_action_links_end_to_end(make_world):
    boss = "boss" + uuid.uuid4().hex[:6]
    w = make_world(extra=ALWAYS)
    w.write_conf(people='{ address = "%s@example.com"; name = "Carol Boss"; role = "manager"; }'
                 % boss)
    cust = w.addr(w.customer)
    for s in ("Printer on fire", "Scanner on fire"):
        w.append(mail(cust, w.addr(w.support), s))
    w.once()
    a, b = sorted(t["number"] for t in w.tickets())
    _append_conf(w, REPORT)
    dg = _digest(w, boss)
    text = _part(dg, "text/plain")
    links = dict((int(n), l) for n, l in re.findall(
        r"- #(\d+) .*?\n(?:  .*\n)*?  Act by mail: <(mailto:[^>]+)>", text))
    assert a in links and b in links, text
    to, subj, body = _mailto(links[a])
    assert to == w.addr(w.support)
    assert subj.startswith("[Example #%d] Action: tickd.%d.act." % (a, a))
    assert body.startswith("#assign me\n#priority high\n")
    proof = ["Authentication-Results: %s; dmarc=pass header.from=example.com" % AUTHSERV]

    # tampered: ticket a's token under ticket b's tag, and a changed MAC
    _, bsubj, _ = _mailto(links[b])
    moved = bsubj.replace("#%d]" % b, "#%d]" % a)  # b's token on a's tag
    mac = re.search(r"\.([0-9a-f]{20})@", subj).group(1)
    forged = subj.replace(mac, mac[:-1] + ("0" if mac[-1] != "0" else "1"))
    _send(w, w.addr(boss), moved, body, proof)
    _send(w, w.addr(boss), "Re: " + forged, body, proof)
    # a valid link from someone who is not a proven manager
    _send(w, cust, subj, body)
    w.once()
    for n in (a, b):
        t = w.ticket(n)
        assert t["assignee"] is None and t["priority"] == "normal", t
    assert w.sql("SELECT count(*) FROM event WHERE action = 'action-forged' "
                 "AND ticket_id IS NULL") == "2"
    assert w.sql("SELECT count(*) FROM event WHERE action = 'action-refused' "
                 "AND ticket_id IS NULL") == "1"
    assert w.sql("SELECT count(*) FROM message WHERE ticket_id IS NULL "
                 "AND subject LIKE '%Action: tickd.%'") == "3"
    assert len(w.tickets()) == 2

    # the real link from the manager assigns the ticket and raises it
    _send(w, w.addr(boss), subj, body, proof)
    w.once()
    t = w.ticket(a)
    assert t["assignee"] == w.addr(boss) and t["priority"] == "high", t
    acts = [(e["actor"], e["action"]) for e in t["events"]]
    assert (w.addr(boss), "assigned") in acts and (w.addr(boss), "priority") in acts
    assert w.ticket(b)["assignee"] is None
    assert imapbox.count(w.customer) == 2  # the two acks; nothing to the customer
