"""Identity settings refuse what would weaken verification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.auth import AuthSettings, build_authenticator
from gateway.auth.settings import OidcSettings
from gateway.errors import ConfigError

ISSUER = "https://auth.lab.example/application/o/hermes/"


def oidc(**values: Any) -> OidcSettings:
    return OidcSettings.model_validate({"issuer": ISSUER, "audience": ["labgate"], **values})


def test_defaults() -> None:
    settings = oidc()
    assert settings.issuer == ISSUER  # trailing slash kept
    assert settings.algorithms == ["RS256", "ES256"]
    assert settings.leeway_seconds == 30
    assert settings.exp_leeway_seconds == 0
    assert settings.max_token_bytes == 8192
    assert settings.jwks_min_refetch_seconds == 5
    assert settings.jwks_max_age_seconds == 600


@pytest.mark.parametrize(
    "values",
    [
        {"algorithms": ["none"]},
        {"algorithms": ["RS256", "none"]},
        {"algorithms": ["HS256"]},  # HS256 without a secret file
        {"algorithms": ["HS512"]},
        {"algorithms": []},
        {"hs256_secret_file": "/run/secrets/x"},  # a secret without HS256
        {"audience": []},
        {"audience": [""]},
        {"leeway_seconds": 121},
        {"exp_leeway_seconds": 61},
        {"jwks_min_refetch_seconds": 0},  # would let a flood of unknown kids hammer the issuer
        {"jwks_max_age_seconds": 86401},
        {"jwks_max_age_seconds": 30, "jwks_min_refetch_seconds": 10},  # no room to refresh
        {"issuer": "auth.lab.example/application/o/hermes/"},
        {"issuer": "https://user:pass@auth.lab.example/"},
        {"jwks_url": "file:///etc/passwd"},
        {"unknown_key": True},
    ],
)
def test_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        oidc(**values)


def test_hs256_with_secret_file_is_allowed() -> None:
    settings = oidc(algorithms=["HS256"], hs256_secret_file="/run/secrets/hs")
    assert settings.hs256_secret_file == Path("/run/secrets/hs")


def test_mode_needs_its_section() -> None:
    with pytest.raises(ValidationError):
        AuthSettings.model_validate({"mode": "oidc"})
    with pytest.raises(ValidationError):
        AuthSettings.model_validate({"mode": "forward_auth"})
    with pytest.raises(ValidationError):
        AuthSettings.model_validate({"mode": "basic"})


def test_unconfigured_default_does_not_start() -> None:
    with pytest.raises(ConfigError):
        build_authenticator(AuthSettings())


def test_short_hs256_secret_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "hs"
    secret.write_text("too-short")
    settings = AuthSettings(mode="oidc", oidc=oidc(algorithms=["HS256"], hs256_secret_file=secret))
    with pytest.raises(ConfigError):
        build_authenticator(settings)
