"""The Dockerfile: multi-stage, slim, non-root, no build tools at run time, a real health probe."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dockerfile import Stage, parse_dockerfile
from tests.support.live import ROOT
from tests.support.net import free_port

DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make ", "clang", "libc6-dev", "python3-dev")


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    _, parsed = parse_dockerfile(DOCKERFILE)
    return parsed


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_is_multi_stage_on_python_311_slim(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.base), stage
    assert stages[0].name == "builder"
    assert "pip wheel" in stages[0].text()


def test_final_stage_runs_as_non_root(final: Stage) -> None:
    user = final.last("USER")
    assert user is not None, "the final stage must set USER"
    uid, _, gid = user.args.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, (
        "a numeric non-root uid (Kubernetes/compose check it)"
    )
    assert gid == "" or (gid.isdigit() and int(gid) != 0)
    # Nothing after USER switches back to root.
    after = final.instructions[final.instructions.index(user) + 1 :]
    assert not [i for i in after if i.keyword == "USER"]


def test_final_stage_has_no_build_tools(final: Stage) -> None:
    text = final.text().lower()
    for tool in BUILD_TOOLS:
        assert tool not in text, f"{tool.strip()} in the final stage"
    assert "apt-get install" not in text
    assert "copy --from=builder /wheels" not in text, "wheels must not become an image layer"
    install = [i for i in final.all("RUN") if "pip install" in i.args]
    assert install and "--no-index" in install[0].args and "--no-cache-dir" in install[0].args


def test_healthcheck_uses_python_against_operator_healthz(final: Stage) -> None:
    check = final.last("HEALTHCHECK")
    assert check is not None
    argv = check.exec_form()
    assert argv is not None and argv[0] == "python"
    assert "/healthz" in argv[-1]
    assert "curl" not in check.args and "wget" not in check.args


def test_entrypoint_ports_and_config(final: Stage) -> None:
    entry, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    assert entry is not None and cmd is not None
    assert entry.exec_form() == ["labgate"]
    assert cmd.exec_form() == ["serve"]
    exposed = {p for i in final.all("EXPOSE") for p in i.args.split()}
    assert exposed == {"8080", "9090"}
    env = " ".join(i.args for i in final.all("ENV"))
    assert "LABGATE_CONFIG=/etc/labgate/gateway.yaml" in env
    assert not re.search(r"(PASSWORD|SECRET|TOKEN)\w*=", env, re.I), "no secrets in ENV"


def _copy_sources(stage: Stage) -> list[str]:
    sources: list[str] = []
    for copy in stage.all("COPY"):
        if copy.args.startswith("--from"):
            continue
        sources.extend(copy.args.split()[:-1])
    return sources


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)


def test_dockerignore_keeps_secrets_and_state_out_but_sources_in(stages: list[Stage]) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for private in (".git", ".venv", "var", "secrets", "gateway.yaml", ".env", "tests"):
        assert _ignored(private, patterns), f"{private} would be sent to the build context"
    for source in _copy_sources(stages[0]):
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), f"{source} is copied but ignored"


def test_builder_context_builds_a_complete_wheel(stages: list[Stage], tmp_path: Path) -> None:
    """The builder's COPY lines alone make a wheel with the SQL migrations and sample data."""
    context = tmp_path / "context"
    context.mkdir()
    for source in _copy_sources(stages[0]):
        src = ROOT / source
        if src.is_dir():
            shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, context / source)
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and "No matching distribution found for setuptools" in proc.stderr:
        pytest.skip("no package index reachable to fetch the build backend (setuptools)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = out.glob("labgate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "gateway/audit/migrations/0001_audit.sql" in names
    assert "gateway/py.typed" in names
    assert any(n.startswith("capabilities/documents/sample_data/") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "labgate = gateway.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def _probe(final: Stage, env: dict[str, str]) -> int:
    check = final.last("HEALTHCHECK")
    assert check is not None
    argv = check.exec_form()
    assert argv is not None
    proc = subprocess.run(
        [sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30, check=False
    )
    return proc.returncode


def test_healthcheck_probe_passes_on_a_live_gateway_and_fails_without(
    final: Stage, tmp_path: Path
) -> None:
    from tests.support.live import live_config, running

    config: dict[str, Any] = live_config(tmp_path)
    with running(tmp_path, config) as live:
        port = live.ops.rsplit(":", 1)[1]
        assert _probe(final, {"LABGATE_OPERATOR_LISTEN__PORT": port}) == 0
        agent_port = live.base.rsplit(":", 1)[1]
        # The agent listener has no /healthz: probing it must fail.
        assert _probe(final, {"LABGATE_OPERATOR_LISTEN__PORT": agent_port}) != 0
    assert _probe(final, {"LABGATE_OPERATOR_LISTEN__PORT": str(free_port())}) != 0


def test_compose_healthcheck_matches_the_operator_port() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["labgate"]
    port = service["environment"]["LABGATE_OPERATOR_LISTEN__PORT"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
