#!/usr/bin/env bash
# Installs Hermes Agent (hermes-agent from PyPI, the version pinned below) into a virtualenv of
# its own, for the tests that drive Hermes' own MCP client and OAuth code against labgate
# (tests/gateway/api/test_hermes.py). Idempotent: does nothing when that version is in place.
# The path is shared by every checkout of this machine: LABGATE_HERMES_VENV overrides it.
set -euo pipefail

version="0.19.0"
venv="${LABGATE_HERMES_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/labgate/hermes-agent-${version}}"
python="${PYTHON:-python3}"

if [ -x "${venv}/bin/python" ] \
    && "${venv}/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('hermes-agent') != '${version}' or m.version('mcp') != '1.26.0')" 2>/dev/null; then
    exit 0
fi

if ! "${python}" -m venv --help >/dev/null 2>&1 || ! "${python}" -c "import ensurepip" 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
fi
rm -rf "${venv}"
"${python}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --upgrade pip
"${venv}/bin/python" -m pip install --quiet "hermes-agent[mcp]==${version}"
