"""Checks that need no network: settings, secret files, policies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gateway.errors import ConfigError, PolicyError
from gateway.policy.loader import PolicyLoadError, load_policy_dir
from gateway.policy.policyset import PolicySet
from gateway.registry import Registry
from gateway.secrets import read_secret_file
from gateway.settings import Settings

from .report import Section

__all__ = ["check_policies", "check_secrets", "secret_files"]


def secret_files(settings: Settings) -> Iterator[tuple[str, Path]]:
    """``(setting key, path)`` of every secret file the settings name."""
    for name, upstream in settings.upstreams.items():
        if upstream.auth is not None:
            yield f"upstreams.{name}.auth.secret_file", upstream.auth.secret_file
    if settings.postgres is not None and settings.postgres.password_file is not None:
        yield "postgres.password_file", settings.postgres.password_file
    if settings.cursor_key_file is not None:
        yield "cursor_key_file", settings.cursor_key_file
    oidc = settings.auth.oidc
    if settings.auth.mode == "oidc" and oidc is not None:
        if oidc.hs256_secret_file is not None:
            yield "auth.oidc.hs256_secret_file", oidc.hs256_secret_file
        if oidc.introspection is not None:
            key = "auth.oidc.introspection.client_secret_file"
            yield key, oidc.introspection.client_secret_file


def check_secrets(settings: Settings, out: Section) -> set[str]:
    """Read each secret file (the value is dropped at once); returns the keys that failed."""
    failed: set[str] = set()
    for key, path in secret_files(settings):
        try:
            read_secret_file(path, key)
        except ConfigError as exc:
            failed.add(key)
            out.add("fail", key, "secret-unreadable", f"{exc.detail} ({path})")
        else:
            out.add("ok", key, "ok", f"readable ({path})")
    return failed


def check_policies(policy_dir: Path, caps: Registry, out: Section) -> PolicySet | None:
    try:
        policies = load_policy_dir(policy_dir, caps)
    except PolicyLoadError as exc:
        for problem in exc.problems:
            out.add("fail", str(policy_dir), "policy-invalid", str(problem))
        return None
    except PolicyError as exc:
        out.add("fail", str(policy_dir), "policy-invalid", str(exc))
        return None
    out.add("ok", str(policy_dir), "ok", f"policy {policies.version} loads")
    for name in caps:
        if name not in policies.capabilities:
            out.add("ok", name, "capability-off", "no policy file: its tools are off")
    return policies
