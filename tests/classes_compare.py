#!/usr/bin/env python3
"""classes_compare.py - check classify.c against ../shared/corpora/classes.tsv.

classes.tsv (see the corpora README) is a heuristic labelling of the shared
corpora: path, class, evidence; several rows per file.  This script takes the
classifier's verdict for each file and reports:

  * the loop-protection rule: every file classes.tsv calls bounce,
    dsn-delayed/dsn-other, arf-complaint, out-of-office or auto-reply must be
    machine mail (never "human");
  * the sisimai figures: maildir/err should be bounces, maildir/not should not;
  * every disagreement between our class and the class classes.tsv implies,
    marked "reviewed" when it is in REVIEWED below (with the verdict on who is
    right), so that only new disagreements fail the run;
  * a closing table of every disagreement, with classes.tsv or with
    sisimai's err/not folders: path | they say | we say | who is right.
tests/corpus.sh (make corpus, make check) runs it; the real ingest path over
the same files (no acknowledgement for machine mail) is
tests/integration/test_machine.py::test_corpus_machine_mail_gets_no_acknowledgement.

The verdicts come from one of:
  --tickctl PROG   `PROG parse FILE...` (the real parse path; its "== path"
                   and "class: NAME (reason)" lines are read), e.g.
                   tests/classes_compare.py --tickctl build/tickctl
  --driver PROG    a program that reads file paths on stdin and prints one
                   TSV line per file: path, class, reason, bounce_recipient,
                   bounce_status, original_message_id
  --results FILE   the saved output of such a driver.

Exit status: 0 when the loop-protection rule holds and every disagreement is
reviewed with the class recorded there; 1 otherwise.  Python 3 stdlib only.
"""

import argparse
import collections
import os
import subprocess
import sys

MACHINE_REQUIRED = {"bounce", "dsn-delayed", "dsn-other", "arf-complaint",
                    "out-of-office", "auto-reply"}

# Disagreements that were looked at by hand: path -> (our class, verdict).
# A listed file classified differently from the class recorded here is
# reported again, so a change in classify.c cannot slip through unseen.
REVIEWED = {
    "sisimai/maildir/err/make-test-36.eml": (
        "human",
        "we are right: a person (original-sender@example.jp) forwarding a "
        "bounce to someone, with 'Fwd:' subject, References and the bounce "
        "quoted with '>'; classes.tsv has only 'name only' evidence and "
        "sisimai counts it because it decodes forwarded bounces. For a "
        "helpdesk this is a customer asking about a bounce and must be "
        "answered."),
    "rubymail/spec/fixtures/emails/error_emails/"
    "content_transfer_encoding_x_uuencode.eml": (
        "list",
        "we are right: a LISTSERV post (Sender: the list RRGA-L@LIST."
        "RTOWEST.ORG, To: the list, Return-Path: owner-rrga-l@...); "
        "classes.tsv only looks at Sender for owner-... and misses the "
        "envelope address."),
    "sisimai/maildir/not/rb-issue-368-bug.eml": (
        "bounce",
        "classes.tsv (and we) are right, sisimai's folder is not: From "
        "postmaster@ with Return-Path <>, Subject 'email bounce "
        "notification', body 'an email you sent was rejected ... reject "
        "reason: Mailbox full'. It sits in sisimai's not/ because it is the "
        "regression mail of rb-sisimai#368 (a crash on quoted headers), "
        "which sisimai cannot decode, not because it is not a bounce. "
        "Machine either way."),
}


def load_tsv(path):
    rows = collections.defaultdict(list)
    with open(path, encoding="utf-8") as f:
        header = f.readline()
        if not header.startswith("path\t"):
            sys.exit("classes.tsv: unexpected header %r" % header)
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t", 2)
            while len(parts) < 3:
                parts.append("")
            rows[parts[0]].append((parts[1], parts[2]))
    return rows


def expected(classes):
    """The class classes.tsv implies, in classify.c's precedence order.

    Returns (name, accepted set of our classes)."""
    c = set(classes)
    if "bounce" in c:
        return "bounce", {"bounce"}
    if "dsn-delayed" in c or "dsn-other" in c:
        return "delay", {"delay"}
    if "arf-complaint" in c:
        return "complaint", {"complaint"}
    if "mdn" in c:
        return "receipt", {"receipt"}
    if "out-of-office" in c or "auto-reply" in c:
        return "auto-reply", {"auto-reply"}
    if "spam-flagged" in c:
        return "spam", {"spam"}
    if "auto-generated" in c:
        # Auto-Submitted: auto-generated is our auto-reply class,
        # Precedence: bulk/junk our list class.
        return "auto-generated", {"auto-reply", "list"}
    if "mailing-list" in c or "newsletter-bulk" in c:
        return "list", {"list"}
    if "null-sender" in c:
        return "null-sender", {"human"}
    return "human", {"human"}


def run_driver(driver, corpora, paths):
    inp = "".join(os.path.join(corpora, p) + "\n" for p in paths)
    out = subprocess.run([driver], input=inp, capture_output=True,
                         text=True, errors="replace", check=True).stdout
    return parse_results(out.splitlines(), corpora)


def run_tickctl(tickctl, corpora, paths):
    res = {}
    for i in range(0, len(paths), 200):
        chunk = [os.path.join(corpora, p) for p in paths[i:i + 200]]
        out = subprocess.run([tickctl, "parse"] + chunk, capture_output=True,
                             text=True, errors="replace").stdout
        cur = None
        for line in out.splitlines():
            if line.startswith("== ") and line[3:] in chunk:
                cur = os.path.relpath(line[3:], corpora)
            elif line.startswith("class: ") and cur is not None:
                name, _, reason = line[7:].partition(" (")
                res[cur] = {"class": name, "reason": reason[:-1],
                            "rcpt": "", "status": "", "orig": ""}
                cur = None
    return res


def parse_results(lines, corpora):
    res = {}
    prefix = os.path.join(corpora, "")
    for line in lines:
        f = line.split("\t")
        if len(f) < 3:
            continue
        path = f[0][len(prefix):] if f[0].startswith(prefix) else f[0]
        while len(f) < 6:
            f.append("")
        res[path] = {"class": f[1], "reason": f[2], "rcpt": f[3],
                     "status": f[4], "orig": f[5]}
    return res


def all_mail_files(corpora):
    skip_ext = (".json", ".md", ".txt.license")
    out = []
    for root, dirs, files in os.walk(corpora):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), corpora)
            if rel == "classes.tsv" or "/" not in rel:
                continue
            base = os.path.basename(rel)
            if base in ("SOURCE", "LICENSE", "COPYING", "README") or \
                    base.startswith("LICENSE") or rel.endswith(skip_ext):
                continue
            out.append(rel)
    return out


def short(evidence, n=90):
    return evidence if len(evidence) <= n else evidence[:n - 3] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
        "corpora"))
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tickctl", help="tickctl binary (uses 'parse')")
    g.add_argument("--driver", help="program: paths on stdin, TSV out")
    g.add_argument("--results", help="saved driver output")
    ap.add_argument("--all", action="store_true",
                    help="also list machine verdicts on files classes.tsv "
                         "does not mention")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every file's verdict")
    a = ap.parse_args()
    corpora = os.path.normpath(a.corpora)
    tsv = load_tsv(os.path.join(corpora, "classes.tsv"))
    listed = sorted(p for p, r in tsv.items()
                    if not any(c == "mbox-container" for c, _ in r))
    containers = sorted(p for p, r in tsv.items()
                        if any(c == "mbox-container" for c, _ in r))
    # sisimai's maildir/{err,not} are ground truth as folders: all of them
    # are checked, listed in classes.tsv or not
    sisimai = [p for p in all_mail_files(corpora)
               if p.startswith("sisimai/maildir/")]
    paths = listed + (sorted(set(all_mail_files(corpora)) - set(tsv))
                      if a.all else sorted(set(sisimai) - set(tsv)))

    if a.tickctl:
        res = run_tickctl(a.tickctl, corpora, paths)
    elif a.driver:
        res = run_driver(a.driver, corpora, paths)
    else:
        with open(a.results, encoding="utf-8", errors="replace") as f:
            res = parse_results(f.read().splitlines(), corpora)

    bad = 0
    table = []  # (path, their class, ours, verdict) of reviewed cases
    ours = collections.Counter(res[p]["class"] for p in listed if p in res)
    print("files listed in classes.tsv: %d (+%d mbox containers, not "
          "classified inside)" % (len(listed), len(containers)))
    print("our classes: " + ", ".join("%s %d" % kv for kv in
                                       sorted(ours.items())))
    missing = [p for p in paths if p not in res]
    if missing:
        bad += 1
        print("NO VERDICT for %d files: %s" % (len(missing), missing[:5]))

    # 1. loop protection
    need = [p for p in listed
            if any(c in MACHINE_REQUIRED for c, _ in tsv[p])]
    human = [p for p in need if res.get(p, {}).get("class") == "human"]
    print("\nmust be machine (bounce/dsn/arf/ooo/auto-reply rows): %d/%d "
          "machine" % (len(need) - len(human), len(need)))
    for p in human:
        rev = REVIEWED.get(p)
        ok = rev is not None and rev[0] == "human"
        bad += 0 if ok else 1
        print("  %s %s  [%s]" % ("reviewed" if ok else "HUMAN", p,
                                 "; ".join(short(e, 60) for _, e in tsv[p])))

    # 2. sisimai
    for sub, want in (("sisimai/maildir/err/", "all"),
                      ("sisimai/maildir/not/", "none")):
        files = [p for p in paths if p.startswith(sub)]
        b = [p for p in files if res.get(p, {}).get("class") == "bounce"]
        print("%s: %d/%d bounce (sisimai: %s are bounces)"
              % (sub, len(b), len(files), want))
        others = [p for p in files if (p in b) != (want == "all")]
        for p in others:
            cls = res.get(p, {}).get("class")
            rev = REVIEWED.get(p)
            ok = rev is not None and rev[0] == cls
            bad += 0 if ok else 1
            print("  [%s] %s -> %s (%s)" % ("reviewed" if ok else "NEW", p,
                                            cls, res.get(p, {}).get("reason")))
            if ok:
                table.append((p, "sisimai: %s" % ("bounce" if want == "all"
                                                  else "not a bounce"),
                              cls, rev[1]))

    # 3. every disagreement
    print("\ndisagreements with classes.tsv:")
    n = 0
    for p in listed:
        if p not in res:
            continue
        name, accept = expected(c for c, _ in tsv[p])
        r = res[p]
        if r["class"] in accept:
            if a.verbose:
                print("  ok %-10s %s (%s)" % (r["class"], p, r["reason"]))
            continue
        n += 1
        rev = REVIEWED.get(p)
        state = "NEW"
        if rev is not None:
            state = "reviewed" if rev[0] == r["class"] else "CHANGED"
        if state != "reviewed":
            bad += 1
        ev = "; ".join("%s: %s" % (c, short(e, 70)) for c, e in tsv[p]
                       if c != "follow-up")
        print("  [%s] %s\n      classes.tsv: %s (%s)\n      ours: %s (%s)"
              % (state, p, name, ev, r["class"], r["reason"]))
        if rev is not None:
            print("      verdict: %s" % rev[1])
            if state == "reviewed":
                table.append((p, "classes.tsv: %s" % name, r["class"],
                              rev[1]))
    print("  %d disagreement(s)" % n)

    # Same verdict, other name: classes.tsv's labels are not our class
    # names (dsn-delayed = delay, Precedence: bulk/junk "auto-generated" =
    # list: RFC 3834 treats bulk as list mail).  Not disagreements; shown
    # so that the mapping is visible.
    names = collections.Counter()
    for p in listed:
        if p in res:
            name, accept = expected(c for c, _ in tsv[p])
            if res[p]["class"] in accept and res[p]["class"] != name:
                names[(name, res[p]["class"])] += 1
    print("\nsame verdict, other name (classes.tsv -> ours): " +
          ", ".join("%s -> %s %d" % (k[0], k[1], v)
                    for k, v in sorted(names.items())))

    # 4. the verdict table: every disagreement, with classes.tsv or with
    # sisimai's folders, and who is right (see REVIEWED)
    print("\nverdicts (path | they say | we say | who is right):")
    seen = set()
    for p, theirs, cls, verdict in table:
        key = (p, theirs)
        if key in seen:
            continue
        seen.add(key)
        print("  %s | %s | %s | %s" % (p, theirs, cls,
                                       verdict.split(":")[0]))

    if a.all:
        print("\nmachine verdicts on files classes.tsv does not list:")
        for p in paths:
            if p in tsv or p not in res or res[p]["class"] == "human":
                continue
            print("  %-10s %s (%s)" % (res[p]["class"], p,
                                       res[p]["reason"]))

    print("\nresult: %s" % ("OK" if bad == 0 else "FAIL (%d)" % bad))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
