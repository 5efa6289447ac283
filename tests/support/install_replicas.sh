#!/bin/sh
# What the replica tests need from Debian: redis-server (the tests start their own on a free
# loopback port) and haproxy (the reverse proxy in front of three gateway processes), without
# the packaged services.
set -eu
sh "$(dirname "$0")/apt-install.sh" redis-server:redis-server haproxy:haproxy
# Should a service manager have started the packaged servers anyway, stop them.
if command -v systemctl >/dev/null 2>&1; then
    for unit in redis-server haproxy; do
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            systemctl disable --now "$unit"
        fi
    done
fi
