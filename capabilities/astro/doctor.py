"""``labgate doctor`` for astro: InfluxDB reachable with its credentials, target globs resolve.

``/ping`` names the server version; one ``SHOW TAG VALUES`` (InfluxQL) or
``schema.tagValues`` (Flux) lists the targets. A policy target glob that matches no target
is reported; the preview lists, per rule, the targets its globs admit today.
"""

from __future__ import annotations

import httpx

from gateway.capability import DoctorContext, DoctorReport, Finding, upstream_failure
from gateway.errors import GatewayError

from .client import InfluxQLClient
from .flux import DIALECT, post_query
from .frames import SourceError
from .mapping import quote_ident
from .schemas import AstroConfig, AstroScope, glob_regex

__all__ = ["doctor"]

_SOURCE_CODES = {
    "credentials": "credentials-rejected",
    "not_found": "name-unknown",
    "rejected": "unexpected-shape",
    "bad_response": "unexpected-shape",
}


async def doctor(ctx: DoctorContext[AstroConfig, AstroScope]) -> DoctorReport:
    config = ctx.config
    report = DoctorReport()
    subject = f"upstream {config.upstream}"
    http = ctx.http(config.upstream)
    try:
        version = _version_finding(subject, await _version(http), config)
        if version.status == "fail":
            report.findings.append(version)
            return report
        targets = await _targets(http, config)
    except GatewayError as exc:
        report.findings.append(upstream_failure(subject, exc))
        return report
    except SourceError as exc:
        report.findings.append(_source_finding(subject, exc, config))
        return report
    report.findings.append(version)
    for rule_id, scope in ctx.scopes.items():
        globs = scope.targets if scope is not None else None
        if globs is not None:
            report.findings.extend(_glob_findings(f"rule {rule_id}: targets", globs, targets))
        admitted = [t for t in targets if globs is None or glob_regex(globs).fullmatch(t)]
        report.admitted[rule_id] = {"targets": admitted}
    return report


async def _version(http: httpx.AsyncClient) -> str | None:
    response = await http.get("/ping")
    if response.status_code in (401, 403):
        raise SourceError("credentials", f"/ping: {response.status_code}")
    version: str | None = response.headers.get("x-influxdb-version")
    return version


def _source_finding(subject: str, exc: SourceError, config: AstroConfig) -> Finding:
    where = (
        f"bucket {config.bucket!r}" if config.backend == "flux" else f"database {config.database!r}"
    )
    if exc.kind == "credentials" and exc.internal.endswith("(403)"):
        # InfluxDB 1.x answers 403 to a valid user without READ on the database (or none).
        message = f"403: the user has no READ grant on {where}, or it does not exist"
    elif exc.kind == "credentials":
        message = "401: check the username and the password file"
    else:
        message = f"{exc.kind} ({where})"
    return Finding("fail", subject, _SOURCE_CODES[exc.kind], message)


def _version_finding(subject: str, version: str | None, config: AstroConfig) -> Finding:
    major = (version or "").lstrip("v").split(".", 1)[0]
    known = ("2", "3") if config.backend == "flux" else ("1", "2", "3")
    if major not in known:
        message = (
            f"X-Influxdb-Version {version!r} (None: not InfluxDB?); "
            f"the {config.backend} backend needs major {'/'.join(known)}"
        )
        return Finding("fail", subject, "unexpected-version", message)
    return Finding("ok", subject, "ok", f"InfluxDB {version}, {config.backend} answers")


async def _targets(http: httpx.AsyncClient, config: AstroConfig) -> list[str]:
    if config.backend == "flux":
        return await _flux_targets(http, config)
    if config.layout == "wide":
        measurement, tag = quote_ident(config.wide.measurement), quote_ident(config.wide.target_tag)
        text = f"SHOW TAG VALUES FROM {measurement} WITH KEY = {tag}"
    else:
        text = f"SHOW TAG VALUES WITH KEY = {quote_ident(config.nina.target_tag)}"
    series, _ = await InfluxQLClient(http, config).run(text, {})
    values = {str(row[1]) for s in series for row in s.get("values") or [] if len(row) > 1}
    return sorted(values)


async def _flux_targets(http: httpx.AsyncClient, config: AstroConfig) -> list[str]:
    query = (
        'import "influxdata/influxdb/schema"\n'
        f"schema.tagValues(bucket: {quote_ident(config.bucket)}, "
        f"tag: {quote_ident(config.wide.target_tag)})\n"
    )
    rows = await post_query(http, config, {"query": query, "dialect": DIALECT})
    return sorted({str(r["_value"]) for r in rows if r.get("_value") is not None})


def _glob_findings(subject: str, globs: list[str], targets: list[str]) -> list[Finding]:
    out = []
    for glob in globs:
        hits = [t for t in targets if glob_regex([glob]).fullmatch(t)]
        if hits:
            out.append(Finding("ok", subject, "ok", f"{glob!r} matches {len(hits)} targets"))
        else:
            out.append(Finding("warn", subject, "glob-empty", f"{glob!r} matches no target today"))
    return out
