#!/bin/sh
# Runs the integration tests against real servers (needs root: OpenSMTPD).
# Without a test file or directory among the arguments, the whole suite;
# with one (run.sh tests/integration/test_x.py -k y), only what is named.
cd "$(dirname "$0")/../.." || exit 1
for a in "$@"; do
	case $a in
	-*) ;;
	*) [ -e "${a%%::*}" ] && exec /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" ;;
	esac
done
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
