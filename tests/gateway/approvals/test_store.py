"""The proposal store: its state machine, quota, replay memory and durability across reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.approvals.store import ProposalRow, ProposalStore
from gateway.proposal import FieldChange

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def row(ident: str, *, sub: str = "agent", at: datetime = T0, ttl: float = 3600) -> ProposalRow:
    return ProposalRow(
        id=ident,
        capability="documents",
        tool="documents_propose_metadata",
        rule_id="proposes",
        principal={"sub": sub, "client_id": "hermes"},
        request_id="r1",
        args={"document_id": 1},
        target="document 1",
        title="Scan",
        changes=(FieldChange("title", "Scan", "Invoice"),),
        payload={"document_id": 1, "title": "Invoice"},
        reason="looks like an invoice",
        status="pending",
        created_at=at,
        expires_at=at + timedelta(seconds=ttl),
        posted_event=None,
        decided_by=None,
        decided_via=None,
        decided_at=None,
        applied=None,
        error=None,
    )


def test_pending_then_approved_then_applied_only_once(tmp_path: Path) -> None:
    store = ProposalStore(tmp_path / "p.db")
    assert store.add_if_under_quota(row("a" * 16), 10)
    assert store.decide("a" * 16, "approved", "@o:x", "matrix", T0)
    # A second decision of either kind loses: the first one stands.
    assert not store.decide("a" * 16, "denied", "@o:x", "matrix", T0)
    assert not store.decide("a" * 16, "approved", "@o:x", "matrix", T0)
    assert store.finish("a" * 16, "applied", applied={"changes": []})
    assert not store.finish("a" * 16, "failed", error="late")
    got = store.get("a" * 16)
    assert got is not None and got.status == "applied" and got.decided_by == "@o:x"


def test_no_decision_after_expiry_and_expiry_is_terminal(tmp_path: Path) -> None:
    store = ProposalStore(tmp_path / "p.db")
    store.add_if_under_quota(row("b" * 16, ttl=60), 10)
    late = T0 + timedelta(seconds=60)
    assert not store.decide("b" * 16, "approved", "@o:x", "matrix", late)
    assert store.expire(late) == ["b" * 16]
    assert store.expire(late) == []
    got = store.get("b" * 16)
    assert got is not None and got.status == "expired"
    assert not store.decide("b" * 16, "approved", "@o:x", "matrix", T0)


def test_daily_quota_per_principal_and_utc_day(tmp_path: Path) -> None:
    store = ProposalStore(tmp_path / "p.db")
    assert store.add_if_under_quota(row("1" * 16), 2)
    assert store.add_if_under_quota(row("2" * 16), 2)
    assert not store.add_if_under_quota(row("3" * 16), 2)
    assert store.get("3" * 16) is None
    assert store.add_if_under_quota(row("4" * 16, sub="other"), 2)
    assert store.add_if_under_quota(row("5" * 16, at=T0 + timedelta(days=1)), 2)


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    store = ProposalStore(tmp_path / "p.db")
    store.add_if_under_quota(row("c" * 16), 10)
    store.set_posted("c" * 16, "$event")
    assert store.first_sight("$reaction", T0)
    store.set_value("matrix.since", "s72_1")
    seq = store.enqueue("c" * 16, "approve", "operator:root", T0)
    store.close()

    again = ProposalStore(tmp_path / "p.db")
    got = again.by_posted_event("$event")
    assert got is not None and got.id == "c" * 16 and got.status == "pending"
    assert not again.first_sight("$reaction", T0)  # a replayed event is recognised
    assert again.get_value("matrix.since") == "s72_1"
    assert [(i.seq, i.verdict) for i in again.inbox()] == [(seq, "approve")]
    again.done(seq)
    assert again.inbox() == []
    assert [r.id for r in again.unposted()] == []
