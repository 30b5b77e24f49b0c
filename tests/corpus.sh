#!/bin/sh
# corpus.sh BIN - every mail under ../shared/corpora through the real parse
# and classify path of BIN (an ASan+UBSan build): fails on any crash, any
# sanitizer report (leaks included) and any output that is not valid UTF-8.
cd "$(dirname "$0")/.." || exit 1
bin=${1:-build/asan/tickctl}
dir=${CORPORA:-../shared/corpora}
[ -d "$dir" ] || { echo "corpus: $dir is missing"; exit 1; }
out=$(mktemp)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$bin" corpus-report "$dir" >"$out" 2>&1
rc=$?
cat "$out"
fail=0
[ $rc -eq 0 ] || { echo "corpus: exit $rc"; fail=1; }
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$out" && { echo "corpus: sanitizer report"; fail=1; }
grep -E '^total:' "$out" | grep -q ' invalid-utf8=0 ' || { echo "corpus: invalid UTF-8 or no total line"; fail=1; }
msgs=$(sed -nE 's/^total: .* messages=([0-9]+) .*/\1/p' "$out")
rm -f "$out"
if [ $fail -eq 0 ]; then echo "corpus: ${msgs:-0} passed, 0 failed"; else echo "corpus: 0 passed, 1 failed"; fi
exit $fail
