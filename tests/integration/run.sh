#!/bin/sh
# Runs the integration tests against real servers (needs root: OpenSMTPD).
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
