#!/bin/sh
# Idempotent: installs Debian's influxdb (1.x) for the astro tests, without starting its service.
# The tests start their own influxd on a free loopback port (tests/support/influxdb.py).
set -eu

if command -v influxd >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# Never let the package's init script start a server on *:8086.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    CREATED_POLICY=1
fi

if ! apt-cache show influxdb >/dev/null 2>&1; then
    $SUDO apt-get update
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends influxdb

if [ "$CREATED_POLICY" -eq 1 ]; then
    $SUDO rm -f "$POLICY"
fi

command -v influxd >/dev/null 2>&1
