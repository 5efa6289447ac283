#!/bin/sh
# Debian's influxdb (1.x) for the astro tests, without its service: the tests start their own
# influxd on a free loopback port (tests/support/influxdb.py).
set -eu
exec sh "$(dirname "$0")/apt-install.sh" influxd:influxdb
