#!/bin/sh
# Runs every mail of the shared corpora through the real parse path of an
# ASan+UBSan build and fails on a crash, a sanitizer or leak report, a GLib
# critical, or a message whose parse broke the UTF-8 contract.
#
# usage: tests/corpus.sh [BIN]      (BIN: an ASan build of tickctl,
#                                    default build/asan/tickctl)
#        CORPORA=DIR tests/corpus.sh BIN
set -u

bin=${1:-build/asan/tickctl}
cd "$(dirname "$0")/.." || exit 2
corpora=${CORPORA:-../shared/corpora}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
[ -x "$bin" ] || { echo "corpus: '$bin' is not executable" >&2; exit 2; }
[ -d "$corpora" ] || { echo "corpus: no corpora at '$corpora'" >&2; exit 2; }

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT INT TERM

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	"$bin" corpus-report "$corpora" >"$out" 2>"$err"
rc=$?
cat "$out"

fail=0
crashes=0
# 128+n: killed by a signal; ASan and UBSan exit 1 after their report.
if [ $rc -ge 128 ] || grep -qE '^(==[0-9]+==)?ERROR: (Address|Undefined)Sanitizer|runtime error:' "$err"; then
	crashes=1
fi
leaks=0
grep -q 'ERROR: LeakSanitizer' "$err" && leaks=1
criticals=$(grep -c 'CRITICAL \*\*' "$err")
total=$(grep '^total:' "$out" | tail -1)
invalid=$(printf '%s\n' "$total" | sed -n 's/.* invalid-utf8=\([0-9]*\).*/\1/p')

echo "corpus: exit=$rc crashes=$crashes leaks=$leaks criticals=$criticals invalid-utf8=${invalid:-?}"
if [ $crashes -ne 0 ] || [ $leaks -ne 0 ] || [ "$criticals" -ne 0 ]; then
	echo "corpus: sanitizer or GLib report:" >&2
	head -n 80 "$err" >&2
	fail=1
fi
if [ -z "$total" ] || [ "${invalid:-1}" != 0 ]; then
	echo "corpus: invalid UTF-8 or no total line" >&2
	grep -v 'CRITICAL' "$err" | head -n 20 >&2
	fail=1
fi
[ $rc -eq 0 ] || fail=1
# The classifier against classes.tsv and sisimai's folders (the ingest
# path itself is tests/integration/test_machine.py).
if [ -f "$corpora/classes.tsv" ]; then
	if ! ASAN_OPTIONS=detect_leaks=0 /usr/bin/python3 tests/classes_compare.py \
		--corpora "$corpora" --tickctl "$bin"; then
		echo "corpus: classes_compare failed" >&2
		fail=1
	fi
fi
[ $fail -eq 0 ] && echo "corpus: ok"
exit $fail
