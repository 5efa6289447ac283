#!/bin/sh
# Install Debian packages whose command is missing, never letting a package's init script
# start a service (tests start their own servers on free loopback ports). Idempotent.
#   apt-install.sh COMMAND:PACKAGE [COMMAND:PACKAGE ...]
set -eu

missing=""
for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -n "$missing" ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

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

for pkg in $missing; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        $SUDO apt-get update
        break
    fi
done
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing

for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1
done
