"""The hash chain over audit records.

Every stored row carries ``prev_hash`` and ``hash = sha256(prev_hash || record)`` (hex), where
``record`` is the record's canonical JSON text (see :func:`record_text`). The first row of a
journal has ``seq`` 1 and links to :data:`GENESIS`. ``seq`` increases by one per row, so a
row removed from the middle shows twice: as a gap in ``seq`` and as a broken link. Rows cut
from the end leave no gap; ``verify_journal`` compares the last row with the shipped cursor,
and PostgreSQL and the JSON log lines hold copies to compare with.

    verify(rows) -> [Problem(seq, code, message), ...]   # empty: the chain is intact
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.audit.record import AuditRecord, canonical_json

__all__ = ["GENESIS", "Problem", "Row", "link", "record_text", "verify"]

#: ``prev_hash`` of the first row of a journal.
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Row:
    """One stored record: its position, its canonical JSON text and its links."""

    seq: int
    event_id: str
    record: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """The record's fields plus ``seq`` and ``hash`` (the shape of log and tail lines)."""
        data: dict[str, Any] = json.loads(self.record)
        data["seq"] = self.seq
        data["hash"] = self.hash
        return data


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of :func:`verify`. ``code`` is stable kebab-case."""

    seq: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "journal"
        return f"{where}: {self.code}: {self.message}"


def link(prev_hash: str, text: str) -> str:
    """``sha256(prev_hash || text)`` as 64 hex digits."""
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def record_text(record: AuditRecord) -> str:
    """The canonical JSON the chain covers; always encodable as UTF-8.

    Lone surrogates (possible in strings decoded from hostile JSON) cannot be stored, so they
    are replaced by U+FFFD before hashing; everything else is kept exactly.
    """
    text = record.to_json()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = canonical_json(_replace_surrogates(record.to_dict()))
    return text


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_surrogates(v) for v in value]
    return value


def verify(rows: Iterable[Row], *, anchor: tuple[int, str] = (1, GENESIS)) -> list[Problem]:
    """Check rows given in stored order (ascending ``seq``).

    Finds: a record or hash changed (``hash-mismatch``), a link that does not point at the
    previous row (``chain-break``: removed, inserted or reordered rows), missing sequence
    numbers (``seq-gap``), sequence numbers out of order (``seq-order``) and an ``event_id``
    that differs from the record's (``event-id-mismatch``). ``anchor`` is the ``seq`` and
    ``prev_hash`` the first row must have: by default seq 1 linked to :data:`GENESIS`; a
    caller checking a chain in pieces passes the last checked row's ``(seq + 1, hash)``.
    """
    problems: list[Problem] = []
    prev_seq, prev_hash = anchor[0] - 1, anchor[1]
    for row in rows:
        if link(row.prev_hash, row.record) != row.hash:
            problems.append(Problem(row.seq, "hash-mismatch", "record or hash was changed"))
        problems.extend(_check_event_id(row))
        if row.seq <= prev_seq:
            problems.append(Problem(row.seq, "seq-order", f"follows seq {prev_seq}: reordered"))
        elif row.seq != prev_seq + 1:
            missing = row.seq - prev_seq - 1
            problems.append(
                Problem(row.seq, "seq-gap", f"{missing} row(s) missing after seq {prev_seq}")
            )
        if row.prev_hash != prev_hash:
            problems.append(
                Problem(row.seq, "chain-break", f"does not link to the row of seq {prev_seq}")
            )
        prev_seq, prev_hash = row.seq, row.hash
    return problems


def _check_event_id(row: Row) -> list[Problem]:
    try:
        stored = json.loads(row.record).get("event_id")
    except (ValueError, AttributeError):
        return [Problem(row.seq, "bad-record", "record is not a JSON object")]
    if stored != row.event_id:
        return [Problem(row.seq, "event-id-mismatch", "event_id differs from the record's")]
    return []
