"""``labgate doctor`` for health: Uptime Kuma reachable with the API key, scope globs resolve.

Each configured source is read once. A scope glob that matches no monitor (name, tag, group)
is reported; a scope key the sources cannot state (tags from 1.23/2.0 metrics, groups without
status pages) matches nothing, and is reported as such. The preview lists visible monitors.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from gateway.capability import DoctorContext, DoctorReport, Finding, upstream_failure
from gateway.errors import GatewayError

from .client import KumaClient, KumaError, Sources
from .merge import Monitor, build_monitors
from .schemas import HealthConfig, HealthScope
from .scope import is_visible

__all__ = ["doctor"]

_KUMA_CODES = {
    "auth": "credentials-rejected",
    "not_found": "name-unknown",
    "bad_response": "unexpected-shape",
    "timeout": "unreachable",
    "unavailable": "unreachable",
}


async def doctor(ctx: DoctorContext[HealthConfig, HealthScope]) -> DoctorReport:
    config = ctx.config
    report = DoctorReport()
    try:
        sources = await KumaClient(ctx.http(config.upstream), config).read_all()
    except GatewayError as exc:
        report.findings.append(upstream_failure(f"upstream {config.upstream}", exc))
        return report
    report.findings.extend(_source_findings(config, sources))
    if sources.failures:
        return report
    monitors = build_monitors(
        sources.metrics,
        sources.pages,
        sources.heartbeats,
        now=datetime.now(UTC),
        stale_after_seconds=config.stale_after_seconds,
    )
    for rule_id, scope in ctx.scopes.items():
        if scope is not None:
            report.findings.extend(_scope_findings(rule_id, scope, monitors))
        visible = [m.name for m in monitors if is_visible(m, scope)]
        report.admitted[rule_id] = {"monitors": sorted(set(visible), key=str.casefold)}
    return report


def _source_findings(config: HealthConfig, sources: Sources) -> list[Finding]:
    out = []
    subject = f"upstream {config.upstream}"
    for source, exc in sources.failures.items():
        where = f"{subject} ({source})"
        if isinstance(exc, KumaError):
            code = _KUMA_CODES[exc.kind]
            hint = _hint(source, exc.kind)
            out.append(Finding("fail", where, code, f"{exc.kind}{hint}"))
        elif isinstance(exc, GatewayError):
            out.append(upstream_failure(where, exc))
    if config.metrics and sources.metrics is not None:
        out.append(Finding("ok", f"{subject} (metrics)", "ok", f"{len(sources.metrics)} monitors"))
    for slug, page in sources.pages.items():
        count = sum(len(g.monitors) for g in page.groups)
        out.append(Finding("ok", f"{subject} (page:{slug})", "ok", f"{count} monitors"))
    return out


def _hint(source: str, kind: str) -> str:
    if kind == "auth":
        return ": check the API key (the password of HTTP Basic) and its expiry"
    if source.startswith("page:") and kind in ("not_found", "timeout"):
        return ": no such status page? (Uptime Kuma 1.23 never answers an unknown slug)"
    return ""


def _scope_findings(rule_id: str, scope: HealthScope, monitors: list[Monitor]) -> list[Finding]:
    names = [m.name for m in monitors]
    # Only a status page that shows tags gives a monitor's whole tag list (``/metrics`` labels
    # are partial on every version): a tag rule sees no other monitor.
    tag_keys = {
        k for m in monitors if m.tags_known for t in m.tags for k in (t, t.partition("=")[0])
    }
    groups = {g for m in monitors for g in m.groups}
    out: list[Finding] = []
    for key, globs, values in (
        ("names", scope.names, names),
        ("exclude_names", scope.exclude_names, names),
        ("tags", scope.tags, tag_keys),
        ("exclude_tags", scope.exclude_tags, tag_keys),
        ("groups", scope.groups, groups),
    ):
        subject = f"rule {rule_id}: {key}"
        if globs and not values and key != "names" and key != "exclude_names":
            what = (
                "tags (a status page that shows tags)" if "tags" in key else "groups (status pages)"
            )
            message = f"no configured source gives {what}: this key matches nothing"
            if "tags" in key:
                message += "; monitors whose tags are unknown are hidden under it"
            out.append(Finding("warn", subject, "scope-unchecked", message))
            continue
        out.extend(_glob_findings(subject, globs or (), values, key == "names"))
    return out


def _glob_findings(
    subject: str, globs: Iterable[str], values: Iterable[str], check_ambiguous: bool
) -> list[Finding]:
    folded = [v.casefold() for v in values]
    out = []
    for glob in globs:
        hits = sum(1 for v in folded if fnmatchcase(v, glob.casefold()))
        if hits == 0:
            out.append(Finding("warn", subject, "glob-empty", f"{glob!r} matches nothing today"))
        elif check_ambiguous and not any(c in glob for c in "*?[") and hits > 1:
            message = f"{glob!r} names {hits} monitors (Uptime Kuma names are not unique)"
            out.append(Finding("warn", subject, "name-ambiguous", message))
        else:
            out.append(Finding("ok", subject, "ok", f"{glob!r} matches {hits}"))
    return out
