"""NPS beside CSAT on real servers: with csat.nps the resolution mail asks
"how likely are you to recommend us" with 0-10 links signed like the
rating links; a customer answers 9 on one ticket and 3 on another, so
`tickctl report` shows NPS 0 of 2 (100 for one agent, -100 for the
other); a tampered link records nothing."""
import json
import re
import urllib.parse

from conftest import mail


def _nps_links(msg):
    for p in msg.walk():
        if p.get_content_type() == "text/plain":
            text = p.get_content().replace("\r\n", "\n")
            return {int(n): l for n, l in re.findall(r"  (\d+): <(mailto:[^>]+)>", text)}
    return {}


def _subject_of(link):
    return urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["subject"][0]


def test_nps_answers_in_report(world):
    with open(world.conf, "a") as f:
        f.write("csat: { enabled = true; nps = true; };\n")
    cust = world.addr(world.customer)
    sup = world.addr(world.support)
    world.append(mail(cust, sup, "Printer jams"))
    world.append(mail(cust, sup, "Scanner is slow"))
    world.once()
    a, b = sorted(t["number"] for t in world.tickets())
    world.sql("UPDATE ticket SET status = 'resolved', resolved_at = now(), assignee = "
              "CASE id WHEN %d THEN 'alice@example.com' ELSE 'bob@example.com' END "
              "WHERE id IN (%d, %d)" % (a, a, b))
    world.once()
    links = {}
    for m in world.inbox(world.customer):
        got = re.search(r"#(\d+)\] Resolved", m["Subject"])
        if got:
            links[int(got.group(1))] = _nps_links(m)
    assert sorted(links) == [a, b]
    assert sorted(links[a]) == list(range(11))
    nine = _subject_of(links[a][9])
    three = _subject_of(links[b][3])
    assert re.search(r"tickd\.%d\.rate-nps9\.[0-9a-f]+\.[0-9a-f]{20}@" % a, nine)
    # tampered: the 3 of ticket b made a 10, and b's token on ticket a
    tampered = three.replace("rate-nps3.", "rate-nps10.")
    swapped = three.replace("tickd.%d." % b, "tickd.%d." % a)
    assert tampered != three and swapped != three
    world.append(mail(cust, sup, tampered))
    world.append(mail(cust, sup, swapped))
    world.append(mail(cust, sup, nine))
    world.append(mail(cust, sup, three))
    world.once()
    assert world.sql("SELECT string_agg(ticket_id || ':' || score, ',' ORDER BY ticket_id) "
                     "FROM nps_rating") == "%d:9,%d:3" % (a, b)
    assert world.sql("SELECT count(*) FROM event WHERE action = 'csat-forged'") == "2"
    # answers neither rate CSAT nor reopen
    assert world.sql("SELECT count(*) FROM csat_rating") == "0"
    assert world.sql("SELECT string_agg(DISTINCT status, ',') FROM ticket") == "resolved"

    span = ["--from", "2020-01-01", "--to", "2100-01-01"]
    rep = json.loads(world.ctl("report", "--json", *span).stdout)
    groups = {g["name"]: g["current"] for g in rep["groups"]}
    allg = rep["groups"][0]["current"]
    assert (allg["nps"], allg["nps_n"]) == (0.0, 2)
    alice, bob = groups["alice@example.com"], groups["bob@example.com"]
    assert (alice["nps"], alice["nps_n"]) == (100.0, 1)
    assert (bob["nps"], bob["nps_n"]) == (-100.0, 1)
    text = world.ctl("report", *span).stdout.decode()
    assert re.search(r"NPS \(promoters - detractors\)\s+0\.0\s", text)
    assert re.search(r"NPS answers\s+2\s", text)
    csv = world.ctl("report", "--csv", *span).stdout.decode().splitlines()
    head = csv[0].split(",")
    row = [l.split(",") for l in csv[1:] if l.startswith("all,") and ",current," in l][0]
    assert row[head.index("nps")] == "0" and row[head.index("nps_n")] == "2"
    # the same numbers from the facts and the unrolled path
    assert world.ctl("report", "--json", *span).stdout == \
        world.ctl("report", "--unrolled", "--json", *span).stdout
