"""Write a small deployment (gateway.yaml, secret files, policy directory) for doctor tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["GLOBAL_POLICY", "deployment"]

GLOBAL_POLICY = "kill_switch: false\n"


def deployment(
    root: Path, settings: dict[str, Any], policies: dict[str, str] | None = None
) -> Path:
    """``root/gateway.yaml`` with ``settings`` (dev auth and a policy dir unless given)."""
    policy_dir = root / "policies"
    policy_dir.mkdir(exist_ok=True)
    (policy_dir / "gateway.yaml").write_text(GLOBAL_POLICY, "utf-8")
    for name, text in (policies or {}).items():
        (policy_dir / f"{name}.yaml").write_text(text, "utf-8")
    doc = {
        "policy_dir": str(policy_dir),
        "journal_path": str(root / "audit.db"),
        "auth": {"mode": "dev"},
        **settings,
    }
    path = root / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path
