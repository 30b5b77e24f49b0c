#!/bin/sh
# Runs every unit-test binary given, then prints one total line.
pass=0; fail=0; rc=0
for t in "$@"; do
	out=$("$t" 2>&1); r=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -z "$line" ]; then echo "unit: $t printed no summary (exit $r)"; fail=$((fail + 1)); rc=1; continue; fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	pass=$((pass + p)); fail=$((fail + f))
	[ "$r" -eq 0 ] || rc=1
done
echo "unit total: $pass passed, $fail failed"
exit $rc
