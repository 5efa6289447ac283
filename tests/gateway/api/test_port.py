"""The faces depend on the port, never on the runtime that builds them."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway.api

RUNTIME = ("gateway.runtime", "gateway.app")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_face_imports_the_runtime() -> None:
    root = Path(gateway.api.__file__).parent
    offenders = {
        str(path.relative_to(root)): sorted(
            n
            for n in _imports(path)
            if n in RUNTIME or n.startswith(tuple(f"{r}." for r in RUNTIME))
        )
        for path in root.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) >= 10  # the walk saw the faces
