"""``labgate doctor`` for documents: paperless reachable with the token, scope names resolve.

Every scope name must name exactly one object the gateway's paperless user can see
(case-insensitively, as paperless compares): an unknown name or a name shared by several
objects makes every call under the rule fail closed. The preview lists, per rule, the tags,
correspondents and document types an admitted document may carry.
"""

from __future__ import annotations

import datetime as dt

from gateway.capability import DoctorContext, DoctorReport, Finding, upstream_failure
from gateway.errors import GatewayError

from .client import KINDS, CredentialsRejected, Kind, NameMap, PaperlessClient, PaperlessError
from .schemas import ById, DocumentsConfig, DocumentsScope, Entry
from .scope import labels

__all__ = ["doctor"]

#: API majors the client was checked against (X-Version 2.x and 3.x).
KNOWN_MAJORS = (2, 3)


async def doctor(ctx: DoctorContext[DocumentsConfig, DocumentsScope]) -> DoctorReport:
    config = ctx.config
    report = DoctorReport()
    subject = f"upstream {config.upstream}"
    client = PaperlessClient(ctx.http(config.upstream))
    now = dt.datetime.now(dt.UTC)
    try:
        page = await client.documents({"page_size": "1"})
        maps = {kind: await client.names(kind, now) for kind in KINDS}
    except GatewayError as exc:
        report.findings.append(upstream_failure(subject, exc))
        return report
    except CredentialsRejected:
        message = "401/403: check the API token and the user's view permissions"
        report.findings.append(Finding("fail", subject, "credentials-rejected", message))
        return report
    except PaperlessError as exc:
        message = f"{type(exc).__name__}: is base_url the paperless-ngx root?"
        report.findings.append(Finding("fail", subject, "unexpected-shape", message))
        return report
    if page.server_major not in KNOWN_MAJORS:
        message = f"X-Version major {page.server_major}, known: {KNOWN_MAJORS}"
        report.findings.append(Finding("warn", subject, "unexpected-version", message))
    else:
        counts = ", ".join(f"{len(maps[k].names)} {k}" for k in KINDS)
        message = f"paperless-ngx {page.server_major}.x, {page.count} documents, {counts}"
        report.findings.append(Finding("ok", subject, "ok", message))
    for rule_id, scope in ctx.scopes.items():
        if scope is not None:
            report.findings.extend(_scope_findings(rule_id, scope, maps))
        report.admitted[rule_id] = _admitted(scope, maps)
    return report


def _matches(names: NameMap, entry: Entry) -> list[int]:
    if isinstance(entry, ById):
        return [entry.id] if entry.id in names.names else []
    return sorted(names.ids_of(entry))


def _scope_names(scope: DocumentsScope) -> list[tuple[str, Kind, list[Entry]]]:
    return [
        ("tags_all", "tags", scope.tags_all),
        ("tags_any", "tags", scope.tags_any),
        ("tags_none", "tags", scope.tags_none),
        ("correspondents", "correspondents", scope.correspondents or []),
        ("document_types", "document_types", scope.document_types or []),
    ]


def _scope_findings(
    rule_id: str, scope: DocumentsScope, maps: dict[Kind, NameMap]
) -> list[Finding]:
    """Resolve each entry as calls do: an exclusion takes every twin, an inclusion needs one."""
    out = []
    for key, kind, entries in _scope_names(scope):
        subject = f"rule {rule_id}: {key}"
        for entry in entries:
            label = f"{{id: {entry.id}}}" if isinstance(entry, ById) else repr(entry)
            ids = _matches(maps[kind], entry)
            if not ids:
                message = f"{label} is not a {kind[:-1]} the gateway's user can see: calls fail"
                out.append(Finding("fail", subject, "name-unknown", message))
            elif len(ids) > 1 and key != "tags_none":
                message = (
                    f"{label} names {len(ids)} {kind} (ids {ids}): calls fail; "
                    "name one with {id: N}"
                )
                out.append(Finding("fail", subject, "name-ambiguous", message))
            elif len(ids) > 1:
                message = f"{label} names {len(ids)} {kind} (ids {ids}): all are excluded"
                out.append(Finding("ok", subject, "ok", message))
            else:
                out.append(Finding("ok", subject, "ok", f"{label} is {kind[:-1]} {ids[0]}"))
    return out


def _admitted(scope: DocumentsScope | None, maps: dict[Kind, NameMap]) -> dict[str, list[str]]:
    """Names an admitted document may carry (tags: all visible tags but the forbidden ones)."""
    forbidden = labels(scope.tags_none, maps["tags"]) if scope else frozenset()

    def listed(kind: Kind, only: list[Entry] | None) -> list[str]:
        wanted = None if only is None else labels(only, maps[kind])
        names = maps[kind].names.values()
        return sorted(
            {n for n in names if wanted is None or n.casefold() in wanted}, key=str.casefold
        )

    tags = [t for t in listed("tags", None) if t.casefold() not in forbidden]
    out = {"tags": tags}
    if scope is not None:
        tags_map = maps["tags"]
        any_of = [f"one of {', '.join(sorted(labels(scope.tags_any, tags_map)))}"]
        required = sorted(labels(scope.tags_all, tags_map))
        if required or scope.tags_any:
            out["tags required"] = [*required, *(any_of if scope.tags_any else [])]
    out["correspondents"] = listed("correspondents", scope.correspondents if scope else None)
    out["document types"] = listed("document_types", scope.document_types if scope else None)
    return out
