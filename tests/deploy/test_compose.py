"""docker-compose.yml: validated by docker-compose itself, hardened, fits the settings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import load_settings
from tests.support.live import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SECRET_NAMES = (
    "labgate_pg_password",
    "influxdb_password",
    "uptime_kuma_api_key",
    "paperless_token",
)


def _compose_bin() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail("docker-compose is missing: run tests/support/install_deploy.sh")
    return found


def _compose(
    tmp: Path, *args: str, file: Path = COMPOSE, profile: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run docker-compose on ``file`` with a project directory holding settings and secrets."""
    secrets = tmp / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in SECRET_NAMES:
        (secrets / name).write_text("not-a-real-secret\n")
    (tmp / "policies").mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "gateway.example.yaml", tmp / "gateway.yaml")
    # A clean environment: nothing from the caller leaks into the interpolation.
    env = {"PATH": os.defpath, "HOME": str(tmp)}
    cmd = [_compose_bin(), "--project-directory", str(ROOT), "-f", str(file)]
    if profile:
        cmd += ["--profile", profile]
    env |= {
        "LABGATE_SETTINGS_FILE": str(tmp / "gateway.yaml"),
        "LABGATE_POLICY_DIR": str(tmp / "policies"),
        "LABGATE_SECRETS_DIR": str(secrets),
    }
    return subprocess.run(
        [*cmd, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("compose")
    proc = _compose(tmp, "config", profile="postgres")
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = yaml.safe_load(proc.stdout)
    return config


def test_config_validates_quietly(tmp_path: Path) -> None:
    proc = _compose(tmp_path, "config", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_validation_catches_a_broken_file(tmp_path: Path) -> None:
    """The validator is not a rubber stamp: a misspelt key fails it."""
    broken = tmp_path / "broken.yml"
    broken.write_text(COMPOSE.read_text().replace("read_only: true", "readonly: true", 1))
    proc = _compose(tmp_path, "config", "-q", file=broken)
    assert proc.returncode != 0
    assert "readonly" in proc.stderr


def test_postgres_is_an_opt_in_profile(resolved: dict[str, Any]) -> None:
    # ``docker-compose config`` lists every service with its profiles; ``up`` starts only
    # those without one unless ``--profile postgres`` is given.
    assert "profiles" not in resolved["services"]["labgate"]
    assert resolved["services"]["postgres"]["profiles"] == ["postgres"]


def test_labgate_service_is_locked_down(resolved: dict[str, Any]) -> None:
    svc = resolved["services"]["labgate"]
    assert svc["read_only"] is True
    assert any(str(t).startswith("/tmp") for t in svc["tmpfs"])
    assert svc["cap_drop"] == ["ALL"]
    assert "cap_add" not in svc
    assert "no-new-privileges:true" in svc["security_opt"]
    assert svc["user"].split(":")[0] != "0" and not svc["user"].startswith("root")
    assert "privileged" not in svc and svc.get("network_mode") != "host"
    assert svc["healthcheck"]["test"][0] == "CMD"


def test_mounts_policies_read_only_and_journal_on_a_named_volume(
    resolved: dict[str, Any],
) -> None:
    mounts = {m["target"]: m for m in resolved["services"]["labgate"]["volumes"]}
    policies = mounts["/etc/labgate/policies"]
    assert policies["type"] == "bind" and policies["read_only"] is True
    assert mounts["/etc/labgate/gateway.yaml"]["read_only"] is True
    journal = mounts["/var/lib/labgate"]
    assert journal["type"] == "volume" and journal["source"] in resolved["volumes"]
    assert not journal.get("read_only", False)


def test_secrets_are_files(resolved: dict[str, Any]) -> None:
    svc = resolved["services"]["labgate"]
    env = svc.get("environment", {})
    for key, value in env.items():
        assert not any(w in key.upper() for w in ("PASSWORD", "SECRET", "TOKEN")), key
        assert "not-a-real-secret" not in str(value)
    names = {s["source"] if isinstance(s, dict) else s for s in svc["secrets"]}
    assert names == set(SECRET_NAMES)
    for name in SECRET_NAMES:
        assert "file" in resolved["secrets"][name]
    pg = resolved["services"]["postgres"]
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/labgate_pg_password"
    assert "POSTGRES_PASSWORD" not in pg["environment"]


def _published(svc: dict[str, Any]) -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    for port in svc["ports"]:
        if isinstance(port, dict):
            out[int(port["target"])] = (port.get("host_ip", ""), int(port["published"]))
        else:
            host_ip, published, target = str(port).removesuffix("/tcp").rsplit(":", 2)
            out[int(target)] = (host_ip, int(published))
    return out


def test_agent_and_operator_listeners_are_separate_ports(resolved: dict[str, Any]) -> None:
    svc = resolved["services"]["labgate"]
    env = svc["environment"]
    agent, ops = int(env["LABGATE_LISTEN__PORT"]), int(env["LABGATE_OPERATOR_LISTEN__PORT"])
    ports = _published(svc)
    assert set(ports) == {agent, ops}
    assert ports[agent] != ports[ops]
    # Unless told otherwise, nothing is published beyond loopback.
    assert ports[ops][0] == "127.0.0.1" and ports[agent][0] == "127.0.0.1"
    pg_ports = _published(resolved["services"]["postgres"])
    assert pg_ports[5432][0] == "127.0.0.1"


def test_example_settings_fit_the_compose_file(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/gateway.example.yaml, read as the container reads it, agrees with the mounts."""
    svc = resolved["services"]["labgate"]
    for key, value in svc["environment"].items():
        if key != "LABGATE_CONFIG":
            monkeypatch.setenv(key, str(value))
    settings = load_settings(ROOT / "deploy" / "gateway.example.yaml")
    mounts = {m["target"] for m in svc["volumes"]}
    assert svc["environment"]["LABGATE_CONFIG"] in mounts
    assert str(settings.policy_dir) in mounts
    assert str(settings.journal_path.parent) in mounts
    assert settings.listen.host == "0.0.0.0" and settings.operator_listen.host == "0.0.0.0"
    secret_paths = {f"/run/secrets/{name}" for name in SECRET_NAMES}
    assert settings.postgres is not None
    assert str(settings.postgres.password_file) in secret_paths
    for name, upstream in settings.upstreams.items():
        assert upstream.auth is not None, name
        assert str(upstream.auth.secret_file) in secret_paths, name
    # The compose postgres service is what the example DSN names.
    assert "@postgres:5432/labgate" in settings.postgres.dsn
    assert resolved["services"]["postgres"]["environment"]["POSTGRES_USER"] == "labgate"
