"""The doctor run: the steps of ``labgate doctor`` in order (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.errors import ConfigError
from gateway.registry import registry_for
from gateway.runtime import validate_capability_configs
from gateway.settings import load_settings

from .identity import check_identity
from .local import check_policies, check_secrets
from .preview import scope_preview
from .report import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Report
from .upstreams import check_upstreams

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "Report", "run_doctor"]


def _default_http(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)


async def run_doctor(
    config_file: Path | None,
    *,
    claims: dict[str, Any] | None = None,
    now: datetime | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    http: Callable[[float], httpx.AsyncClient] = _default_http,
) -> Report:
    report = Report()
    config = report.section("configuration")
    try:
        settings = load_settings(config_file)
        caps = registry_for(settings)
        validate_capability_configs(settings, caps)
    except ConfigError as exc:
        config.add("fail", exc.key or "configuration", "config-invalid", exc.detail)
        report.config_error = True
        return report
    config.add("ok", "settings", "ok", "valid")
    check_secrets(settings, config)
    policies = check_policies(settings.policy_dir, caps, report.section("policies"))
    await check_identity(settings.auth, policies, report.section("identity"), http)
    if policies is None:
        return report
    reports = await check_upstreams(
        settings, caps, policies, report.section("upstreams"), transports=transports
    )
    if claims is not None:
        report.preview = scope_preview(claims, policies, caps, reports, now or datetime.now(UTC))
    return report
