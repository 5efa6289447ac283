"""Settings: file + environment precedence, errors that name the key, docs kept true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.errors import ConfigError
from gateway.settings import ListenSettings, McpSettings, PostgresSettings, Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
DEV = {"auth": {"mode": "dev"}}


def test_yaml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("listen: {port: 8181}\nauth: {mode: dev}\nlog_level: debug\n")
    assert load_settings(cfg).listen.port == 8181
    monkeypatch.setenv("LABGATE_LISTEN__PORT", "8282")
    monkeypatch.setenv("LABGATE_LOG_LEVEL", "warning")
    settings = load_settings(cfg)
    assert settings.listen.port == 8282
    assert settings.log_level == "warning"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "elsewhere.yaml"
    cfg.write_text("auth: {mode: dev}\npolicy_dir: /srv/policies\n")
    monkeypatch.setenv("LABGATE_CONFIG", str(cfg))
    assert load_settings().policy_dir == Path("/srv/policies")
    monkeypatch.setenv("LABGATE_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("listen: {port: 70000}\n", "listen.port"),
        ("lisen: {port: 1}\n", "lisen"),
        ("operator_listen: {max_header_bytes: 10}\n", "operator_listen.max_header_bytes"),
        ("listen: {header_timeout: 0}\n", "listen.header_timeout"),
        ("postgres: {dsn: 'postgresql://u:pw@db/x'}\n", "postgres.dsn"),
        ("auth: {mode: oidc, oidc: {issuer: 'ftp://x', audience: [a]}}\n", "auth.oidc.issuer"),
        ("mcp: {enabled: maybe}\n", "mcp.enabled"),
    ],
)
def test_invalid_setting_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert info.value.key == key
    assert key in info.value.detail


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("listen: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(cfg)


def test_postgres_password_comes_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("p@ss:word\n")
    pg = PostgresSettings(dsn="postgresql://labgate@db:5433/audit", password_file=secret)
    assert pg.resolved_dsn() == "postgresql://labgate:p%40ss%3Aword@db:5433/audit"
    assert "p@ss" not in repr(pg)


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize("model", [Settings, ListenSettings, PostgresSettings, McpSettings])
def test_every_setting_is_documented(model: type[BaseModel]) -> None:
    text = DOCS.read_text()
    # The generated table names nested keys by their path (`listen.host`).
    missing = [n for n in _fields(model) if not re.search(rf"`(?:[\w<>]+\.)*{n}`", text)]
    assert missing == []


def test_example_configuration_loads() -> None:
    example = DOCS.parent.parent / "deploy" / "gateway.example.yaml"
    settings = load_settings(example)
    assert settings.auth.mode == "oidc"
    assert settings.auth.oidc is not None
    assert settings.auth.oidc.issuer.endswith("/")


def test_settings_do_not_load_the_runtime() -> None:
    """Reading configuration (the CLI, the doctor, the reference) builds no client or meter."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    probe = "import json, sys, gateway.settings; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    runtime = {
        "gateway.runtime",
        "gateway.app",
        "gateway.pipeline",
        "gateway.telemetry",
        "gateway.auth.oidc",
        "gateway.auth.jwks",
        "gateway.upstream.client",
        "gateway.upstream.registry",
        "opentelemetry",
        "prometheus_client",
    }
    assert loaded & runtime == set()
