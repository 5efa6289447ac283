"""The policy version: a content hash of the loaded files, plus the Git commit when known.

The commit is read from the ``.git`` files of the checkout that contains the policy directory
(no ``git`` binary needed, nothing executed); any failure simply leaves it out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["content_hash", "git_commit", "policy_version"]

_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_MAX_UP = 32


def content_hash(files: Iterable[tuple[str, bytes]]) -> str:
    """First 12 hex digits of sha256 over the sorted ``(filename, bytes)`` pairs."""
    digest = hashlib.sha256()
    for name, raw in sorted(files):
        encoded = name.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(raw).to_bytes(8, "big") + raw)
    return digest.hexdigest()[:12]


def _git_dir(start: Path) -> Path | None:
    here = start
    for _ in range(_MAX_UP):
        dot = here / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():  # worktree or submodule: "gitdir: <path>"
            text = dot.read_text("utf-8").strip()
            if text.startswith("gitdir:"):
                target = Path(text.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else (here / target).resolve()
            return None
        if here.parent == here:
            return None
        here = here.parent
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text("utf-8").strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text("utf-8").strip()
            return value if _HEX.match(value) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text("utf-8").splitlines():
            parts = line.split(" ")
            if len(parts) == 2 and parts[1] == ref and _HEX.match(parts[0]):
                return parts[0]
    return None


def git_commit(path: Path) -> str | None:
    """Short commit of HEAD of the checkout containing ``path``; ``None`` when unknown."""
    try:
        git_dir = _git_dir(path.resolve())
        if git_dir is None:
            return None
        head = (git_dir / "HEAD").read_text("utf-8").strip()
        if head.startswith("ref:"):
            ref = head.removeprefix("ref:").strip()
            if ".." in ref or not ref.startswith("refs/"):
                return None
            full = _resolve_ref(git_dir, ref)
        else:
            full = head if _HEX.match(head) else None
        return full[:7] if full else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def policy_version(path: Path, files: Iterable[tuple[str, bytes]]) -> str:
    commit = git_commit(path)
    digest = content_hash(files)
    return f"{digest}@{commit}" if commit else digest
