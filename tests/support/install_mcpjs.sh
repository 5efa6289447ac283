#!/usr/bin/env bash
# Installs what the MCP face tests need: Node.js + npm, and the official TypeScript MCP clients
# pinned in tests/support/mcpjs/package-lock.json. Idempotent: does nothing when all is in place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mcpjs"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi

installed() {
    local name="$1" want have=""
    want="$(node -p "require('${here}/package-lock.json').packages['node_modules/${name}'].version")"
    if [ -f "${here}/node_modules/${name}/package.json" ]; then
        have="$(node -p "require('${here}/node_modules/${name}/package.json').version")"
    fi
    [ "${want}" = "${have}" ]
}

if ! installed "@modelcontextprotocol/sdk" || ! installed "@modelcontextprotocol/client"; then
    (cd "${here}" && npm ci --no-audit --no-fund --loglevel=error)
fi
