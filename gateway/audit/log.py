"""The audit record as one JSON line on the ``labgate.audit`` logger (for Promtail/Loki).

The line is the record's fields plus ``"event": "audit"``, the journal ``seq`` and the chain
``hash``. Loki thereby keeps an independent copy of the chain's links: rewriting the journal
and PostgreSQL together still disagrees with the hashes already shipped to Loki. Records never
hold secrets (arguments are redacted by the pipeline before the record is made).
"""

from __future__ import annotations

import logging

from gateway.audit.chain import Row

__all__ = ["LOGGER_NAME", "AuditLog"]

LOGGER_NAME = "labgate.audit"


class AuditLog:
    """Writes one INFO line per stored row."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(LOGGER_NAME)

    def line(self, row: Row) -> str:
        # The stored text is a canonical JSON object: splice the extra keys in, no re-parse.
        # (Keys are no longer all sorted; the hashed text is ``row.record`` itself.)
        extra = f',"event":"audit","hash":"{row.hash}","seq":{row.seq}}}'
        return row.record[:-1] + extra if row.record.endswith("}") else row.record

    def emit(self, row: Row) -> None:
        if self._logger.isEnabledFor(logging.INFO):
            self._logger.info("%s", self.line(row))
