#!/usr/bin/env bash
# Installs the reference MCP server (@modelcontextprotocol/server-everything, pinned in
# tests/support/mcpeverything/package-lock.json) that the mcp_upstream tests front over stdio and
# Streamable HTTP. Idempotent: does nothing when the pinned version is in place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mcpeverything"
name="@modelcontextprotocol/server-everything"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi

want="$(node -p "require('${here}/package-lock.json').packages['node_modules/${name}'].version")"
have=""
if [ -f "${here}/node_modules/${name}/package.json" ]; then
    have="$(node -p "require('${here}/node_modules/${name}/package.json').version")"
fi
if [ "${want}" != "${have}" ]; then
    (cd "${here}" && npm ci --no-audit --no-fund --loglevel=error)
fi
