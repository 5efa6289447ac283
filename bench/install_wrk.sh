#!/usr/bin/env bash
# Install wrk (the HTTP load generator of the bench) from Debian when it is missing. Idempotent.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if ! apt-cache policy wrk 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null
