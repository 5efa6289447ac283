"""Fixtures of the audit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.audit.journal import Journal


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    j = Journal(tmp_path / "audit.db", busy_timeout=0.2, append_timeout=3.0)
    await j.open()
    yield j
    await j.close()
