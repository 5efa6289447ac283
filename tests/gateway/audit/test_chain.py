"""The hash chain: verify finds changed, removed, inserted and reordered rows."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.chain import GENESIS, Row, link, record_text, verify
from tests.gateway.audit.records import make_record


def build(n: int) -> list[Row]:
    rows: list[Row] = []
    prev = GENESIS
    for i in range(n):
        record = make_record(i)
        text = record_text(record)
        rows.append(Row(i + 1, record.event_id, text, prev, link(prev, text)))
        prev = rows[-1].hash
    return rows


def codes(rows: list[Row]) -> set[str]:
    return {p.code for p in verify(rows)}


def test_intact_chain_passes() -> None:
    assert verify(build(10)) == []
    assert verify([]) == []


def test_hash_is_sha256_over_prev_hash_then_record() -> None:
    import hashlib

    row = build(1)[0]
    assert row.prev_hash == "0" * 64
    assert row.hash == hashlib.sha256((row.prev_hash + row.record).encode()).hexdigest()


def test_changed_record_is_found() -> None:
    rows = build(5)
    data = json.loads(rows[2].record)
    data["decision"] = "deny"
    rows[2] = dataclasses.replace(rows[2], record=json.dumps(data))
    problems = verify(rows)
    assert [(p.seq, p.code) for p in problems] == [(3, "hash-mismatch")]


def test_changed_record_with_recomputed_hash_breaks_the_next_link() -> None:
    rows = build(5)
    text = rows[2].record.replace('"allow"', '"deny"')
    rows[2] = dataclasses.replace(rows[2], record=text, hash=link(rows[2].prev_hash, text))
    assert [(p.seq, p.code) for p in verify(rows)] == [(4, "chain-break")]


def test_removed_row_is_found_by_gap_and_link() -> None:
    rows = build(5)
    del rows[2]
    assert codes(rows) == {"seq-gap", "chain-break"}


def test_removed_first_rows_are_found() -> None:
    rows = build(5)
    assert codes(rows[1:]) == {"seq-gap", "chain-break"}
    assert verify(rows[2:], anchor=(3, rows[1].hash)) == []
    assert codes(rows[3:]) == {"seq-gap", "chain-break"}


def test_inserted_row_is_found() -> None:
    rows = build(4)
    extra = make_record(99)
    text = record_text(extra)
    forged = Row(3, extra.event_id, text, rows[1].hash, link(rows[1].hash, text))
    tampered = [*rows[:2], forged, *(dataclasses.replace(r, seq=r.seq + 1) for r in rows[2:])]
    assert "chain-break" in codes(tampered)


def test_reordered_rows_are_found() -> None:
    rows = build(5)
    swapped = [rows[0], rows[2], rows[1], rows[3], rows[4]]
    assert {"seq-order", "chain-break"} <= codes(swapped)
    renumbered = [dataclasses.replace(r, seq=i + 1) for i, r in enumerate(swapped)]
    assert codes(renumbered) == {"chain-break"}


def test_event_id_column_must_match_the_record() -> None:
    rows = build(3)
    rows[1] = dataclasses.replace(rows[1], event_id="other")
    assert codes(rows) == {"event-id-mismatch"}


def test_record_text_replaces_lone_surrogates_only() -> None:
    text = record_text(make_record(1, username="é\ud800", arguments={"q": "✓"}))
    text.encode("utf-8")
    assert "é\ufffd" in text and "✓" in text


@given(st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=4, unique=True))
def test_any_deletion_is_found(gone: list[int]) -> None:
    rows = build(10)
    kept = [r for i, r in enumerate(rows) if i not in gone]
    if sorted(gone) == list(range(10 - len(gone), 10)):
        return  # only the tail was cut: nothing links past it (see test_verify: tail-missing)
    assert verify(kept) != []
