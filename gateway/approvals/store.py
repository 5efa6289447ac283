"""The durable proposal store: one SQLite file (WAL) beside the audit journal.

    pending --approve--> approved --apply--> applied | failed
    pending --deny--> denied
    pending --time--> expired

Every transition is one conditional ``UPDATE ... WHERE status = <from>``: two deciders (a
reaction and an operator command, two reactions) can never both win. The file also keeps the
Matrix events already handled (a replayed event changes nothing), the sync position (events
that arrive while labgate is down are read on start), and the operator's inbox (decisions
made with ``labgate approvals approve|deny``, carried out by the running gateway).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.proposal import FieldChange, ProposalStatus

__all__ = ["InboxItem", "ProposalRow", "ProposalStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    id            TEXT PRIMARY KEY,
    capability    TEXT NOT NULL,
    tool          TEXT NOT NULL,
    rule_id       TEXT NOT NULL,
    principal     TEXT NOT NULL,
    sub           TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    args          TEXT NOT NULL,
    target        TEXT NOT NULL,
    title         TEXT NOT NULL,
    changes       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    day           TEXT NOT NULL,
    posted_event  TEXT,
    decided_by    TEXT,
    decided_via   TEXT,
    decided_at    TEXT,
    applied       TEXT,
    error         TEXT
);
CREATE INDEX IF NOT EXISTS proposals_status ON proposals (status);
CREATE INDEX IF NOT EXISTS proposals_quota ON proposals (capability, rule_id, sub, day);
CREATE UNIQUE INDEX IF NOT EXISTS proposals_posted ON proposals (posted_event);
CREATE TABLE IF NOT EXISTS seen_events (
    event_id  TEXT PRIMARY KEY,
    seen_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id  TEXT NOT NULL,
    verdict      TEXT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class ProposalRow:
    id: str
    capability: str
    tool: str
    rule_id: str
    #: The proposing principal as recorded (sub, client_id, username, groups ...).
    principal: dict[str, Any]
    request_id: str
    args: dict[str, Any]
    target: str
    title: str
    changes: tuple[FieldChange, ...]
    payload: dict[str, Any]
    reason: str
    status: ProposalStatus
    created_at: datetime
    expires_at: datetime
    posted_event: str | None
    decided_by: str | None
    decided_via: str | None
    decided_at: datetime | None
    applied: dict[str, Any] | None
    error: str | None

    @property
    def sub(self) -> str:
        return str(self.principal.get("sub", ""))

    def to_dict(self) -> dict[str, Any]:
        """The operator's view (``labgate approvals show --json``)."""
        return {
            "id": self.id,
            "status": self.status,
            "capability": self.capability,
            "tool": self.tool,
            "rule_id": self.rule_id,
            "principal": self.principal,
            "request_id": self.request_id,
            "target": self.target,
            "title": self.title,
            "changes": [
                {"field": c.field, "current": c.current, "proposed": c.proposed}
                for c in self.changes
            ],
            "payload": self.payload,
            "reason": self.reason,
            "created_at": _ts(self.created_at),
            "expires_at": _ts(self.expires_at),
            "posted_event": self.posted_event,
            "decided_by": self.decided_by,
            "decided_via": self.decided_via,
            "decided_at": _ts(self.decided_at) if self.decided_at else None,
            "applied": self.applied,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class InboxItem:
    seq: int
    proposal_id: str
    verdict: str
    actor: str


def _row(r: sqlite3.Row) -> ProposalRow:
    created = _dt(r["created_at"])
    expires = _dt(r["expires_at"])
    assert created is not None and expires is not None
    return ProposalRow(
        id=r["id"],
        capability=r["capability"],
        tool=r["tool"],
        rule_id=r["rule_id"],
        principal=json.loads(r["principal"]),
        request_id=r["request_id"],
        args=json.loads(r["args"]),
        target=r["target"],
        title=r["title"],
        changes=tuple(FieldChange(**c) for c in json.loads(r["changes"])),
        payload=json.loads(r["payload"]),
        reason=r["reason"],
        status=r["status"],
        created_at=created,
        expires_at=expires,
        posted_event=r["posted_event"],
        decided_by=r["decided_by"],
        decided_via=r["decided_via"],
        decided_at=_dt(r["decided_at"]),
        applied=json.loads(r["applied"]) if r["applied"] else None,
        error=r["error"],
    )


class ProposalStore:
    """Synchronous and thread-safe; the gateway calls it through ``asyncio.to_thread``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- proposals ------------------------------------------------------------------------

    def add_if_under_quota(self, row: ProposalRow, quota: int) -> bool:
        """Insert ``row`` unless its principal already made ``quota`` proposals that day."""
        day = row.created_at.astimezone(UTC).date().isoformat()
        with self._tx() as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM proposals WHERE capability=? AND rule_id=? AND sub=? "
                "AND day=?",
                (row.capability, row.rule_id, row.sub, day),
            ).fetchone()
            if count >= quota:
                return False
            conn.execute(
                "INSERT INTO proposals (id, capability, tool, rule_id, principal, sub, "
                "request_id, args, target, title, changes, payload, reason, status, created_at, "
                "expires_at, day) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    row.id,
                    row.capability,
                    row.tool,
                    row.rule_id,
                    json.dumps(row.principal, sort_keys=True),
                    row.sub,
                    row.request_id,
                    json.dumps(row.args, sort_keys=True),
                    row.target,
                    row.title,
                    json.dumps(
                        [
                            {"field": c.field, "current": c.current, "proposed": c.proposed}
                            for c in row.changes
                        ]
                    ),
                    json.dumps(row.payload, sort_keys=True),
                    row.reason,
                    "pending",
                    _ts(row.created_at),
                    _ts(row.expires_at),
                    day,
                ),
            )
            return True

    def discard(self, proposal_id: str) -> None:
        """Remove a proposal whose ``proposed`` record could not be written."""
        with self._tx() as conn:
            conn.execute("DELETE FROM proposals WHERE id=? AND status='pending'", (proposal_id,))

    def get(self, proposal_id: str) -> ProposalRow | None:
        with self._lock:
            r = self._conn.execute("SELECT * FROM proposals WHERE id=?", (proposal_id,)).fetchone()
        return None if r is None else _row(r)

    def by_posted_event(self, event_id: str) -> ProposalRow | None:
        with self._lock:
            r = self._conn.execute(
                "SELECT * FROM proposals WHERE posted_event=?", (event_id,)
            ).fetchone()
        return None if r is None else _row(r)

    def recent(self, status: str | None = None, limit: int = 100) -> list[ProposalRow]:
        sql = "SELECT * FROM proposals"
        params: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status=?"
            params = (status,)
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*params, limit)).fetchall()
        return [_row(r) for r in rows]

    def unposted(self) -> list[ProposalRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM proposals WHERE status='pending' AND posted_event IS NULL "
                "ORDER BY created_at"
            ).fetchall()
        return [_row(r) for r in rows]

    def approved_unapplied(self) -> list[ProposalRow]:
        """Approved before a stop, never applied: carried out on the next start."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM proposals WHERE status='approved' ORDER BY decided_at"
            ).fetchall()
        return [_row(r) for r in rows]

    def set_posted(self, proposal_id: str, event_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE proposals SET posted_event=? WHERE id=? AND posted_event IS NULL",
                (event_id, proposal_id),
            )

    def decide(
        self, proposal_id: str, status: ProposalStatus, by: str, via: str, now: datetime
    ) -> bool:
        """pending -> approved | denied, only before expiry; False when it was not pending."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE proposals SET status=?, decided_by=?, decided_via=?, decided_at=? "
                "WHERE id=? AND status='pending' AND expires_at > ?",
                (status, by, via, _ts(now), proposal_id, _ts(now)),
            )
            return cur.rowcount == 1

    def expire(self, now: datetime) -> list[str]:
        """pending -> expired for every proposal past its time; their ids."""
        with self._tx() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM proposals WHERE status='pending' AND expires_at <= ?",
                    (_ts(now),),
                ).fetchall()
            ]
            for ident in ids:
                conn.execute(
                    "UPDATE proposals SET status='expired', decided_at=? WHERE id=? "
                    "AND status='pending'",
                    (_ts(now), ident),
                )
            return ids

    def finish(
        self,
        proposal_id: str,
        status: ProposalStatus,
        *,
        applied: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """approved -> applied | failed."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE proposals SET status=?, applied=?, error=? WHERE id=? "
                "AND status='approved'",
                (
                    status,
                    json.dumps(applied, sort_keys=True) if applied is not None else None,
                    error,
                    proposal_id,
                ),
            )
            return cur.rowcount == 1

    # -- events, inbox, sync position ------------------------------------------------------

    def first_sight(self, event_id: str, now: datetime) -> bool:
        """Record a Matrix event as handled; False when it was handled before (a replay)."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO seen_events (event_id, seen_at) VALUES (?, ?)",
                (event_id, _ts(now)),
            )
            return cur.rowcount == 1

    def enqueue(self, proposal_id: str, verdict: str, actor: str, now: datetime) -> int:
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO inbox (proposal_id, verdict, actor, created_at) VALUES (?,?,?,?)",
                (proposal_id, verdict, actor, _ts(now)),
            )
            return int(cur.lastrowid or 0)

    def inbox(self) -> list[InboxItem]:
        """Operator decisions not carried out yet, oldest first (removed by ``done``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, proposal_id, verdict, actor FROM inbox ORDER BY seq"
            ).fetchall()
        return [InboxItem(r[0], r[1], r[2], r[3]) for r in rows]

    def done(self, seq: int) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM inbox WHERE seq=?", (seq,))

    def get_value(self, key: str) -> str | None:
        with self._lock:
            r = self._conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if r is None else str(r[0])

    def set_value(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                (key, value),
            )
