"""The policy version: content hash plus the Git commit of the checkout, when there is one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.capability import Capability
from gateway.policy.loader import load_policy_dir
from gateway.policy.version import content_hash, git_commit

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_hash_ignores_order_and_sees_content() -> None:
    a = content_hash([("a.yaml", b"x"), ("b.yaml", b"y")])
    assert a == content_hash([("b.yaml", b"y"), ("a.yaml", b"x")])
    assert len(a) == 12 and int(a, 16) >= 0
    assert a != content_hash([("a.yaml", b"x"), ("b.yaml", b"y ")])
    assert a != content_hash([("a.yaml", b"xb.yaml"), ("", b"y")])  # framing is unambiguous


def test_version_changes_with_content(
    policy_dir: Path, capabilities: dict[str, Capability]
) -> None:
    first = load_policy_dir(policy_dir, capabilities).version
    assert first == load_policy_dir(policy_dir, capabilities).version
    with (policy_dir / "gateway.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# comment\n")
    assert load_policy_dir(policy_dir, capabilities).version != first


def _fake_git(
    root: Path, head: str, refs: dict[str, str] | None = None, packed: str | None = None
) -> None:
    git = root / ".git"
    git.mkdir(parents=True)
    (git / "HEAD").write_text(head, "utf-8")
    for ref, value in (refs or {}).items():
        (git / ref).parent.mkdir(parents=True, exist_ok=True)
        (git / ref).write_text(value + "\n", "utf-8")
    if packed is not None:
        (git / "packed-refs").write_text(packed, "utf-8")


def test_commit_from_loose_ref(tmp_path: Path) -> None:
    _fake_git(tmp_path, "ref: refs/heads/main\n", {"refs/heads/main": SHA})
    (tmp_path / "policies").mkdir()
    assert git_commit(tmp_path / "policies") == "0123456"


def test_commit_from_packed_refs(tmp_path: Path) -> None:
    _fake_git(
        tmp_path,
        "ref: refs/heads/main\n",
        packed=f"# pack-refs with: peeled\n{SHA} refs/heads/main\n",
    )
    assert git_commit(tmp_path) == "0123456"


def test_detached_head(tmp_path: Path) -> None:
    _fake_git(tmp_path, SHA + "\n")
    assert git_commit(tmp_path) == "0123456"


def test_worktree_gitdir_file(tmp_path: Path) -> None:
    _fake_git(tmp_path / "real", "ref: refs/heads/main\n", {"refs/heads/main": SHA})
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {tmp_path / 'real' / '.git'}\n", "utf-8")
    assert git_commit(tmp_path / "wt") == "0123456"


@pytest.mark.parametrize(
    "head", ["ref: refs/heads/none\n", "ref: ../../etc/passwd\n", "garbage\n", ""]
)
def test_unknown_commit_is_left_out(tmp_path: Path, head: str) -> None:
    _fake_git(tmp_path, head, {"refs/heads/main": SHA})
    assert git_commit(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_real_checkout(tmp_path: Path, capabilities: dict[str, Capability]) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).parent / "data" / "base", repo / "policies")
    env = {
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    for cmd in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "p"],
    ):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True, timeout=30)
    short = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"],
        cwd=repo,
        env=env,
        check=True,
        timeout=30,
        capture_output=True,
        text=True,
    ).stdout.strip()
    version = load_policy_dir(repo / "policies", capabilities).version
    assert version.endswith(f"@{short}")
    assert len(version.split("@")[0]) == 12
