"""Every prepared statement of tickd, planned as PostgreSQL keeps it, on a
database of 20,000+ tickets: none reads a whole big table.

A prepared statement runs on its generic plan after five executions when
that plan looks no dearer than the custom ones, and a daemon's connection
keeps it for days.  Skewed data (one address with nearly every ticket, a
ticket with thousands of messages) or a backlog met at start makes a
generic plan that reads a table whole look fine to the planner; it then
costs O(table) for every mail.  Four statements did (the SLA pass, the
recipient of a quoted mail, a requester's language, the CSAT request).

The statements are taken from the source as the compiler sees them (cc -E,
so the macros are expanded), each is PREPAREd and EXPLAINed under
plan_cache_mode = force_generic_plan with NULL parameters, and the plan
may not hold a sequential scan of a big table, nor an index scan of one
without an index condition (a walk of the whole index).  The few that walk
a partial index by design are listed below with the reason."""
import codecs
import glob
import json
import os
import re
import subprocess

from conftest import ROOT

BIG = ("ticket", "message", "outbox", "event", "participant", "message_search", "sla_clock",
       "attachment")

# statement name: why its walk of a whole (partial) index is bounded
WALKS = {
    "outbox claim": "outbox_pending_idx holds only queued and sending mail: the backlog",
    "outbox next due": "the pending-mail partial indexes: the backlog",
    "outbox mine": "outbox_lease_idx holds only mail being sent: what the senders hold "
                   "(SENDER_HAND_MAX a thread, and their claims); the planner takes "
                   "outbox_message_idx once that is more",
    "outbox hold": "outbox_pending_idx: the backlog (the breaker holds repeats)",
    "outbox unhold": "outbox_pending_idx: the backlog",
    "csat due": "ticket_lifecycle_idx holds only pending and resolved tickets; LIMIT",
    "sla next": "min(next_check): the first entry of sla_clock_due_idx",
}

STR = r'"(?:[^"\\\n]|\\.)*"'
STMT = re.compile(r"struct\s+store_stmt\s+\w+\s*=\s*\{\s*(" + STR + r")\s*,\s*((?:" + STR +
                  r"\s*)+)", re.S)


def c_string(literals):
    return "".join(codecs.decode(s[1:-1].encode(), "unicode_escape")
                   for s in re.findall(STR, literals))


def statements():
    """(file, name, SQL) of every struct store_stmt in src/, after cpp."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        pkgs = re.search(r"^PKGS\s*:=\s*(.*)$", f.read(), re.M).group(1).split()
    flags = subprocess.run(["pkg-config", "--cflags"] + pkgs, check=True, capture_output=True,
                           text=True).stdout.split()
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "src", "*.c"))):
        with open(path) as f:
            if "store_stmt" not in f.read():
                continue
        pp = subprocess.run(["cc", "-E", "-P", "-I" + os.path.join(ROOT, "include"),
                             "-I" + os.path.join(ROOT, "src")] + flags + [path],
                            check=True, capture_output=True, text=True).stdout
        for m in STMT.finditer(pp):
            out.append((os.path.basename(path), c_string(m.group(1)), c_string(m.group(2))))
    return out


def bad_nodes(plan):
    found = set()

    def walk(n):
        rel, kind = n.get("Relation Name"), n["Node Type"]
        if rel in BIG:
            if kind == "Seq Scan":
                found.add("Seq Scan on %s" % rel)
            elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in n:
                found.add("all of %s" % n.get("Index Name"))
        for c in n.get("Plans", []):
            walk(c)
    walk(plan)
    return found


def test_no_prepared_statement_reads_a_big_table_whole(world):
    s = world.stack
    psql = ["/usr/lib/postgresql/15/bin/psql", "-h", s["PGHOST"], "-p", s["PGPORT"], "-U",
            s["PGUSER"], "-d", world.db, "-qAt", "-v", "ON_ERROR_STOP=1"]
    # a year of a helpdesk (the benchmark's generator), then the skew a
    # noisy address and a looping ticket leave
    subprocess.run(psql + ["-v", "n=20000", "-f",
                           os.path.join(ROOT, "tests", "bench", "existing.sql")],
                   check=True, capture_output=True)
    world.sql("SET session_replication_role = replica; "
              "UPDATE ticket SET requester = 'noisy@stranger.example' WHERE id % 40 <> 0; "
              "UPDATE message SET ticket_id = 1040 WHERE direction = 'out'; "
              "UPDATE outbox SET rcpt = 'noisy@stranger.example' WHERE ticket_id % 40 <> 0")
    world.sql("VACUUM ANALYZE")
    stmts = statements()
    # the extraction itself must work: tickd has ~90 prepared statements
    assert len(stmts) >= 80, len(stmts)
    names = {n for _, n, _ in stmts}
    assert set(WALKS) <= names, set(WALKS) - names
    problems, walks = [], {}
    for f, name, sql in stmts:
        n = max([int(x) for x in re.findall(r"\$(\d+)", sql)] or [0])
        args = "(%s)" % ", ".join(["NULL"] * n) if n else ""
        p = subprocess.run(psql + ["-c", "SET plan_cache_mode = force_generic_plan; "
                                   "PREPARE q AS %s; EXPLAIN (FORMAT JSON) EXECUTE q%s" % (sql, args)],
                           capture_output=True, text=True)
        assert p.returncode == 0, (f, name, p.stderr)
        found = bad_nodes(json.loads(p.stdout)[0]["Plan"])
        if found and name in WALKS and not any(x.startswith("Seq Scan") for x in found):
            walks[name] = found
        elif found:
            problems.append("%s %r: %s" % (f, name, ", ".join(sorted(found))))
    print("%d statements; bounded walks: %s" % (len(stmts), walks))
    assert problems == [], "\n".join(problems)
