"""The audit record as one JSON line on the ``labgate.audit`` logger (for Promtail/Loki).

The line is the record's fields plus ``"event": "audit"``, the journal ``seq`` and the chain
``hash``. Loki thereby keeps an independent copy of the chain's links: rewriting the journal
and PostgreSQL together still disagrees with the hashes already shipped to Loki. Records never
hold secrets (arguments are redacted by the pipeline before the record is made).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.audit.chain import Row
from gateway.logs import RawLineHandler

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

    def emit_rows(self, rows: Sequence[Row]) -> None:
        """The lines of several rows; one write when the logger has only labgate's raw line
        handler (``configure_logging``), else one log record each."""
        logger = self._logger
        if not rows or not logger.isEnabledFor(logging.INFO):
            return
        handlers = logger.handlers
        if (
            len(handlers) == 1
            and type(handlers[0]) is RawLineHandler
            and not logger.filters
            and not logger.propagate
        ):
            handlers[0].write_lines([self.line(row) for row in rows])
            return
        for row in rows:
            logger.info("%s", self.line(row))
