#!/bin/sh
# Idempotent: installs what tests/deploy needs from Debian: docker-compose (validates
# docker-compose.yml without an engine) and prometheus (+ promtool), without starting the
# package's service. The tests start their own prometheus on a free loopback port and stop it.
set -eu

missing=""
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
if [ -z "$missing" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# Never let the package's init script start a server on *:9090.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    CREATED_POLICY=1
fi
cleanup() {
    if [ "$CREATED_POLICY" -eq 1 ]; then
        $SUDO rm -f "$POLICY"
    fi
}
trap cleanup EXIT

need_update=0
for pkg in $missing; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        need_update=1
    fi
done
if [ "$need_update" -eq 1 ]; then
    $SUDO apt-get update
fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing

# Belt and braces: should a service manager have started the packaged server anyway, stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl disable --now prometheus
fi

command -v docker-compose >/dev/null 2>&1
command -v prometheus >/dev/null 2>&1
