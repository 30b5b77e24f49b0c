#!/bin/sh
# deps.sh - install what building and testing tickd needs, from Debian 12's
# archive only; quick no-op when everything is there.
set -e
PKGS="build-essential pkg-config libcurl4-openssl-dev libgmime-3.0-dev
libpq-dev libconfig-dev libxml2-dev libglib2.0-dev libuchardet-dev postgresql-15
dovecot-imapd dovecot-lmtpd opensmtpd python3 python3-pytest clang clang-format
util-linux procps iproute2 man-db groff-base systemd wkhtmltopdf
chromium s-nail"
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
[ "$(id -u)" = 0 ] || { echo "deps: run as root (or: sudo apt-get install$missing)"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packaged services (postgresql, dovecot, opensmtpd) must not start: the
# tests run private instances on free loopback ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq $missing
