#!/usr/bin/env bash
# Installs what the identity tests need: Node.js + npm, and the pinned oidc-provider
# (tests/support/oidc/package-lock.json). Idempotent: does nothing when all is in place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/oidc"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi

want="$(node -p "require('${here}/package-lock.json').packages['node_modules/oidc-provider'].version")"
have=""
if [ -f "${here}/node_modules/oidc-provider/package.json" ]; then
    have="$(node -p "require('${here}/node_modules/oidc-provider/package.json').version")"
fi
if [ "${want}" != "${have}" ]; then
    (cd "${here}" && npm ci --no-audit --no-fund --loglevel=error)
fi
