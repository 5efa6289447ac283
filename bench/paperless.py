"""The fake paperless-ngx of the tests as its own process (``python -m bench.paperless FILE``).

Serves the recorded 3.0.5 flavour (tests/capabilities/documents/fake_paperless.py) on a free
loopback port, writes its base URL to ``FILE`` and runs until SIGTERM or SIGINT. Its own
process, so its threads never compete with the bench's client for a GIL.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from tests.capabilities.documents.fake_paperless import FLAVOURS, TOKENS, FakePaperless, serve

__all__ = ["ADMIN_TOKEN", "main"]

#: The fake's admin sees every tag, so the shipped documents policy resolves its names.
ADMIN_TOKEN = TOKENS["admin"]


def main() -> None:
    out = Path(sys.argv[1])
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    with serve(FakePaperless(FLAVOURS[-1])) as url:
        out.write_text(url)
        signal.sigwait(stop)


if __name__ == "__main__":
    main()
