#!/usr/bin/env bash
# Installs what the approval tests need: a Matrix homeserver (matrix-synapse from PyPI) in its own
# virtual environment, tests/support/synapse/.venv, apart from labgate's. The tests start their own
# Synapse (SQLite, a free loopback port) and stop it. Idempotent: does nothing when the pinned
# version is in place.
set -euo pipefail

want="1.163.2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/synapse"
venv="${here}/.venv"
python="${PYTHON:-python3}"

have=""
if [ -x "${venv}/bin/python" ]; then
    have="$("${venv}/bin/python" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null || true)"
fi
if [ "${want}" = "${have}" ]; then
    exit 0
fi

mkdir -p "${here}"
"${python}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --upgrade pip
"${venv}/bin/python" -m pip install --quiet "matrix-synapse==${want}"
