#!/bin/sh
# wrk, the bench's HTTP load generator, from Debian when it is missing. Idempotent.
set -eu
exec sh "$(dirname "$0")/../tests/support/apt-install.sh" wrk:wrk
