"""What the pipeline writes audit records to: the journal (durable) first, then the log line.

    sink = AuditSink(journal)
    await sink.write(record)    # returns once durable and logged; raises AuditUnavailable

The log lines of one commit are written by the journal's writer thread right after the commit
and before any caller is answered (one write for the whole group, off the event loop).

Shipping to PostgreSQL runs separately (:class:`~gateway.audit.postgres.PostgresSink`).
"""

from __future__ import annotations

from gateway.audit.journal import Journal
from gateway.audit.log import AuditLog
from gateway.audit.record import AuditRecord
from gateway.errors import AuditUnavailable

__all__ = ["AuditSink"]


class AuditSink:
    def __init__(
        self, journal: Journal, log: AuditLog | None = None, replica: str | None = None
    ) -> None:
        self.journal = journal
        self._log = log or AuditLog()
        #: Stamped in every record written here (the journal's one replica).
        self.replica = replica
        journal.on_commit = self._log.emit_rows

    async def write(self, record: AuditRecord) -> None:
        if self.replica is not None:
            record.replica = self.replica
        try:
            await self.journal.append_row(record)
        except AuditUnavailable:
            raise
        except Exception as exc:  # fail closed on anything unexpected
            raise AuditUnavailable(internal=f"audit write failed: {exc!r}") from exc
