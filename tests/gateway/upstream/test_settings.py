"""UpstreamSettings validation and credential loading."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.errors import ConfigError
from gateway.upstream import UpstreamSettings
from gateway.upstream.settings import AuthSettings, load_credential


def test_defaults() -> None:
    s = UpstreamSettings(base_url="http://influx.lan:8086")
    assert (s.connect_timeout, s.read_timeout, s.total_timeout) == (3.0, 10.0, 15.0)
    assert s.max_response_bytes == 2 * 1024 * 1024
    assert s.retries == 1
    assert (s.breaker.failures, s.breaker.reset_seconds) == (5, 30.0)
    assert s.verify_tls is True
    assert s.headers == {}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/",
        "file:///etc/passwd",
        "h:8086",
        "/api",
        "http://user:pw@h/",
        "http://token@h/",
        "http://h/?x=1",
        "http://h/#frag",
        "http://h/a/../b",
        "http://h/a/%2e%2e/b",
        "http://h/a\\b",
        "http://",
    ],
)
def test_bad_base_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        UpstreamSettings(base_url=url)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        UpstreamSettings.model_validate({"base_url": "http://h/", "follow_redirects": True})
    with pytest.raises(ValidationError):
        UpstreamSettings.model_validate({"base_url": "http://h/", "breaker": {"fails": 1}})


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "x"},
        {"cookie": "a=b"},
        {"Host": "x"},
        {"X-A": "a\r\nB: c"},
        {"bad name": "x"},
    ],
)
def test_static_headers_cannot_carry_secrets_or_framing(headers: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        UpstreamSettings(base_url="http://h/", headers=headers)


@pytest.mark.parametrize(
    "auth",
    [
        {"scheme": "header", "secret_file": "/s"},  # header name missing
        {"scheme": "bearer", "secret_file": "/s", "header": "X-Key"},
        {"scheme": "token", "secret_file": "/s", "username": "u"},
        {"scheme": "basic", "secret_file": "/s", "username": "a:b"},
        {"scheme": "digest", "secret_file": "/s"},
        {"scheme": "bearer"},
        {"scheme": "bearer", "secret": "inline-secrets-are-not-a-key"},
    ],
)
def test_bad_auth(auth: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        UpstreamSettings.model_validate({"base_url": "http://h/", "auth": auth})


def test_auth_header_clash_with_static_headers() -> None:
    with pytest.raises(ValidationError):
        UpstreamSettings.model_validate(
            {
                "base_url": "http://h/",
                "headers": {"X-Api-Key": "public"},
                "auth": {"scheme": "header", "header": "x-api-key", "secret_file": "/s"},
            }
        )


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"scheme": "bearer"}, "Authorization", "Bearer tok-123"),
        ({"scheme": "token"}, "Authorization", "Token tok-123"),
        (
            {"scheme": "basic", "username": "kuma"},
            "Authorization",
            "Basic " + base64.b64encode(b"kuma:tok-123").decode(),
        ),
        (
            {"scheme": "basic"},
            "Authorization",
            "Basic " + base64.b64encode(b":tok-123").decode(),
        ),
        ({"scheme": "header", "header": "X-API-Key"}, "X-API-Key", "tok-123"),
    ],
)
def test_credential_headers(tmp_path: Path, auth: dict[str, Any], header: str, value: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text("  tok-123\n")
    cred = load_credential("svc", AuthSettings.model_validate({**auth, "secret_file": secret}))
    assert cred.header == header
    assert cred.value.get_secret_value() == value
    assert "tok-123" not in repr(cred) and "tok-123" not in str(cred)
    assert "tok-123" not in repr(cred.value)
    assert cred.redact(f"echo {value} and tok-123") == "echo [redacted] and [redacted]"


def test_settings_repr_never_holds_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("tok-123")
    s = UpstreamSettings.model_validate(
        {"base_url": "http://h/", "auth": {"scheme": "bearer", "secret_file": secret}}
    )
    assert "tok-123" not in repr(s) and "tok-123" not in s.model_dump_json()


@pytest.mark.parametrize("content", ["", "  \n", "SECRETa\nSECRETb", "SECRET\x00"])
def test_unusable_secret_files(tmp_path: Path, content: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_credential("svc", AuthSettings(scheme="bearer", secret_file=secret))
    assert info.value.key == "upstreams.svc.auth.secret_file"
    assert "SECRET" not in str(info.value) and "SECRET" not in info.value.detail


def test_missing_secret_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_credential("svc", AuthSettings(scheme="bearer", secret_file=tmp_path / "nope"))
    assert "cannot read secret file" in str(info.value)


def test_build_client_reads_the_secret_and_fails_early(tmp_path: Path) -> None:
    from gateway.upstream import build_client

    s = UpstreamSettings.model_validate(
        {"base_url": "http://h/", "auth": {"scheme": "bearer", "secret_file": tmp_path / "x"}}
    )
    with pytest.raises(ConfigError):
        build_client("svc", s)


def test_bad_ca_file_is_config_error(tmp_path: Path) -> None:
    from gateway.upstream import build_client

    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    s = UpstreamSettings(base_url="https://h/", verify_tls=ca)
    with pytest.raises(ConfigError) as info:
        build_client("svc", s)
    assert info.value.key == "upstreams.svc.verify_tls"
