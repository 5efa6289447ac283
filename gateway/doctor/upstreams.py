"""Upstream checks: each capability's own probe, then a plain reachability check for the rest."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from pydantic import BaseModel, ValidationError

from gateway.capability import DoctorContext, DoctorReport, Finding, upstream_failure
from gateway.errors import ConfigError, GatewayError
from gateway.policy.loader import PolicySet
from gateway.registry import Registry
from gateway.settings import Settings
from gateway.upstream import Upstreams

from .report import Section

__all__ = ["check_upstreams"]


async def check_upstreams(
    settings: Settings,
    caps: Registry,
    policies: PolicySet,
    out: Section,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> dict[str, DoctorReport]:
    """Run every enabled capability's doctor; returns the reports by capability."""
    if settings.sample_data:
        out.add("ok", "sample_data", "ok", "sample data (demo): no upstream is contacted")
        return {}
    upstreams = Upstreams(settings.upstreams, transports=transports)
    reports: dict[str, DoctorReport] = {}
    probed: set[str] = set()
    try:
        for name, cap in caps.items():
            if name not in policies.capabilities or cap.doctor is None:
                continue
            config = _config(settings, name, cap.config_model, out)
            if config is None:
                continue
            upstream = getattr(config, "upstream", None)
            if isinstance(upstream, str):
                probed.add(upstream)
            scopes: dict[str, BaseModel | None] = dict(policies.scopes.get(name, {}))
            for rule in policies.capabilities[name].rules:
                if rule.effect == "allow":
                    scopes.setdefault(rule.id, None)
            report = await _run(cap.doctor, DoctorContext(config, upstreams.get, scopes), name)
            out.findings.extend(report.findings)
            reports[name] = report
        for name in settings.upstreams:
            if name not in probed:
                out.findings.append(await _reachable(upstreams, name))
    finally:
        await upstreams.aclose()
    return reports


def _config(
    settings: Settings, name: str, model: type[BaseModel], out: Section
) -> BaseModel | None:
    try:
        return model.model_validate(settings.capabilities.get(name, {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["capabilities", name, *(str(p) for p in first["loc"])])
        out.add("fail", key, "config-invalid", str(first["msg"]))
        return None


async def _run(probe: object, ctx: DoctorContext, name: str) -> DoctorReport:
    assert callable(probe)
    try:
        report = await probe(ctx)
    except ConfigError as exc:
        code = "secret-unreadable" if "secret" in exc.detail else "not-configured"
        subject = f"capability {name}"
        if exc.key and exc.key.startswith("upstreams."):  # the probe's upstream is the problem
            subject = "upstream " + exc.key.split(".")[1]
        return DoctorReport([Finding("fail", subject, code, exc.detail)])
    except GatewayError as exc:
        return DoctorReport([upstream_failure(f"capability {name}", exc)])
    assert isinstance(report, DoctorReport)
    return report


async def _reachable(upstreams: Upstreams, name: str) -> Finding:
    """For upstreams no capability probe covers (declarative tools): does ``/`` answer?"""
    subject = f"upstream {name}"
    try:
        response = await upstreams.get(name).get("/")
    except ConfigError as exc:
        code = "secret-unreadable" if "secret" in exc.detail else "not-configured"
        return Finding("fail", subject, code, exc.detail)
    except GatewayError as exc:
        return upstream_failure(subject, exc)
    if response.status_code in (401, 403):
        message = f"HTTP {response.status_code} on / (may be normal for this service)"
        return Finding("warn", subject, "credentials-rejected", message)
    return Finding("ok", subject, "ok", f"answers (HTTP {response.status_code} on /)")
