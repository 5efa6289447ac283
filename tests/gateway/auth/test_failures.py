"""auth_failure aggregation: counted per (address, face, reason) per window, durable before the
caller returns, bounded in keys, flushed at close, failing closed with the writer."""

from __future__ import annotations

import asyncio

import pytest

from gateway.audit.record import AuditRecord
from gateway.auth.failures import OTHER_ADDRESSES, AuthFailureAudit
from gateway.errors import AuditUnavailable


class Writer:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.broken = False

    async def write(self, record: AuditRecord) -> None:
        await asyncio.sleep(0)
        if self.broken:
            raise AuditUnavailable()
        self.records.append(record)

    def counts(self) -> list[tuple[str, str, int]]:
        return [(r.notes["client_address"], r.reasons[1], r.notes["count"]) for r in self.records]


async def test_first_at_once_then_the_rest_of_the_window_as_one_count() -> None:
    writer = Writer()
    audit = AuthFailureAudit(writer, window=0.2)
    await audit.record("10.0.0.1", "rest", "bad-signature", error_code="unauthenticated")
    assert writer.counts() == [("10.0.0.1", "bad-signature", 1)]  # durable before returning
    rest = [
        audit.record("10.0.0.1", "rest", "bad-signature", error_code="unauthenticated")
        for _ in range(50)
    ]
    await asyncio.gather(*rest)  # each returns once the window's record is written
    assert writer.counts() == [("10.0.0.1", "bad-signature", 1), ("10.0.0.1", "bad-signature", 50)]
    await audit.record("10.0.0.2", "mcp", "expired", error_code="unauthenticated")
    assert writer.records[-1].face == "mcp" and writer.records[-1].kind == "auth_failure"
    await audit.aclose()


async def test_a_failing_journal_fails_the_waiting_callers_closed() -> None:
    writer = Writer()
    audit = AuthFailureAudit(writer, window=0.2)
    await audit.record("10.0.0.1", "rest", "expired", error_code="unauthenticated")
    writer.broken = True
    with pytest.raises(AuditUnavailable):
        await audit.record("10.0.0.1", "rest", "expired", error_code="unauthenticated")
    await audit.aclose()


async def test_close_writes_the_pending_counts() -> None:
    writer = Writer()
    audit = AuthFailureAudit(writer, window=3600)
    await audit.record("10.0.0.1", "rest", "expired", error_code="unauthenticated")
    pending = [
        asyncio.ensure_future(
            audit.record("10.0.0.1", "rest", "expired", error_code="unauthenticated")
        )
        for _ in range(3)
    ]
    await asyncio.sleep(0.01)
    await audit.aclose()
    await asyncio.gather(*pending)
    assert writer.counts() == [("10.0.0.1", "expired", 1), ("10.0.0.1", "expired", 3)]


async def test_addresses_beyond_the_limit_share_one_count() -> None:
    writer = Writer()
    audit = AuthFailureAudit(writer, window=3600, max_keys=4)
    for i in range(5):
        await audit.record(f"10.0.0.{i}", "rest", "expired", error_code="unauthenticated")
    addresses = [address for address, _, _ in writer.counts()]
    assert addresses == [f"10.0.0.{i}" for i in range(4)] + [OTHER_ADDRESSES]
    pending = [
        asyncio.ensure_future(
            audit.record(f"10.0.1.{i}", "rest", "expired", error_code="unauthenticated")
        )
        for i in range(6)
    ]
    await asyncio.sleep(0.01)
    await audit.aclose()
    await asyncio.gather(*pending)
    assert writer.counts()[-1] == (OTHER_ADDRESSES, "expired", 6)  # the others joined it
