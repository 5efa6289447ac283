#!/bin/sh
# What tests/deploy needs from Debian: docker-compose (validates docker-compose.yml without an
# engine) and prometheus (+ promtool), without the packaged service: the tests start their own
# prometheus on a free loopback port and stop it.
set -eu
sh "$(dirname "$0")/apt-install.sh" docker-compose:docker-compose prometheus:prometheus promtool:prometheus
# Belt and braces: should a service manager have started the packaged server anyway, stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl disable --now prometheus
fi
