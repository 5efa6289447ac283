"""docs/audit.md stays true: every record field, column and problem code is documented."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from gateway.audit.pgrow import COLUMNS
from gateway.audit.record import AuditRecord
from tests.gateway.audit.records import ROOT

DOC = (ROOT / "docs" / "audit.md").read_text("utf-8")
SOURCES = [ROOT / "gateway" / "audit" / name for name in ("chain.py", "verify.py")]


def test_every_record_field_is_documented() -> None:
    missing = [f.name for f in fields(AuditRecord) if f"| `{f.name}` |" not in DOC]
    assert missing == []


def test_every_column_is_documented() -> None:
    assert [c for c in COLUMNS if f"`{c}`" not in DOC] == []


def test_every_problem_code_is_documented() -> None:
    found: set[str] = set()
    for path in SOURCES:
        found |= set(re.findall(r'Problem\([^"]*"([a-z-]+)"', Path(path).read_text("utf-8")))
    assert found >= {"hash-mismatch", "chain-break", "seq-gap", "tail-missing"}
    assert [c for c in sorted(found) if f"`{c}`" not in DOC] == []
