#!/bin/sh
# seed.sh - build the libFuzzer seed directory OUT from every file below the
# corpora DIR (default ../shared/corpora), in place: nothing is copied into
# the repository.  A file that starts with an mbox "From " line and holds
# more than one message is split into its messages (the whole file is kept
# as a seed too).  Seeds are named by content hash, so rerunning is cheap
# and duplicates collapse.
#
# usage: tests/fuzz/seed.sh OUT [DIR]
set -eu
out=$1
dir=${2:-../shared/corpora}
[ -d "$dir" ] || { echo "seed: no corpora at '$dir'" >&2; exit 2; }
mkdir -p "$out"
exec /usr/bin/python3 - "$out" "$dir" <<'PY'
import hashlib, os, re, sys

out, root = sys.argv[1], sys.argv[2]

def put(data):
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(out, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)

files = messages = 0
for base, dirs, names in os.walk(root):
    dirs.sort()
    for n in sorted(names):
        with open(os.path.join(base, n), "rb") as f:
            data = f.read()
        files += 1
        put(data)
        if data.startswith(b"From "):
            # mbox: a message starts at every envelope line ("From "
            # sender, then "-" or a date with a time), as corpus.c splits
            cuts = [0] + [m.start() + 1 for m in re.finditer(
                rb"\n(?=From \S+ +(?:-|[^\n]*\d\d?:\d\d))", data)]
            if len(cuts) > 1:
                cuts.append(len(data))
                for a, b in zip(cuts, cuts[1:]):
                    if b > a:
                        put(data[a:b])
                        messages += 1
print("seed: %d files, %d mbox messages, %d seeds in %s"
      % (files, messages, len(os.listdir(out)), out))
PY
