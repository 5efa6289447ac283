"""The shipped policy loads with the documents capability and its decision cases hold."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from capabilities.documents import CAPABILITY
from capabilities.documents.schemas import DocumentsScope
from gateway.policy.cases import run_case_file
from gateway.policy.loader import load_policy_dir

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def test_shipped_policy_and_cases(tmp_path: Path) -> None:
    for name in ("gateway.yaml", "documents.yaml"):
        shutil.copy(POLICIES / name, tmp_path / name)
    capabilities = {"documents": CAPABILITY}
    policy_set = load_policy_dir(tmp_path, capabilities)
    scopes = policy_set.scopes["documents"]
    assert scopes and all(isinstance(s, DocumentsScope) for s in scopes.values())
    assert all("medical" in s.tags_none for s in scopes.values() if isinstance(s, DocumentsScope))
    results = run_case_file(
        POLICIES / "documents.cases.yaml",
        policy_set,
        capabilities,
        datetime(2025, 6, 2, 12, tzinfo=UTC),
    )
    assert len(results) >= 8
    assert [r.problems for r in results if not r.ok] == []
