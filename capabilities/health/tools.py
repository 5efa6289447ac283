"""The health tools. Client failures become gateway errors here and only here (``_map``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from gateway.capability import ToolContext, tool
from gateway.errors import (
    GatewayError,
    InvalidArguments,
    NotFound,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

from .addresses import public_host, public_url
from .client import KumaClient, KumaError, Sources
from .merge import Monitor, build_monitors
from .parse import PageData
from .schemas import (
    GetServiceArgs,
    HealthConfig,
    HealthScope,
    Heartbeat,
    Incident,
    ListServicesArgs,
    Problem,
    Service,
    ServiceDetail,
    ServiceList,
    StatusCounts,
    Summary,
    SummaryArgs,
)
from .scope import Redactor, is_visible, split_visible

__all__ = ["TOOLS", "get_service", "list_services", "summary"]

UPSTREAM = "uptime_kuma"
#: What a health tool gets: its config and its rule's scope, typed.
Ctx = ToolContext[HealthConfig, HealthScope]
MAX_PROBLEMS = 50
MAX_INCIDENT_CHARS = 2000
_BAD_CURSOR = "The cursor is not valid; call again without it."


def _map(exc: Exception, upstream: str) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if not isinstance(exc, KumaError):
        return UpstreamError(upstream, internal=f"unexpected {type(exc).__name__}")
    note = exc.internal[:300]
    if exc.kind == "timeout":
        return UpstreamTimeout(upstream, internal=note)
    if exc.kind == "unavailable":
        return UpstreamUnavailable(upstream, internal=note)
    if exc.kind == "auth":
        return UpstreamError(
            upstream,
            "The health service refused the gateway's credentials or is rate limiting; "
            "retry in a minute.",
            internal=note,
        )
    return UpstreamError(upstream, internal=note)


@dataclass(slots=True)
class _View:
    """What one call may see: visible monitors (with display names) and the redactor."""

    monitors: list[tuple[str, Monitor]]
    redact: Redactor
    pages: dict[str, PageData]


async def _view(ctx: Ctx) -> _View:
    config, scope = ctx.config, ctx.scope
    sources: Sources = await ctx.client(KumaClient).read_all()
    read = (sources.metrics is not None) + len(sources.pages)
    if sources.failures:
        if read == 0:
            raise _map(next(iter(sources.failures.values())), config.upstream)
        ctx.partial = True
        ctx.notes["sources_failed"] = sorted(sources.failures)
    monitors = build_monitors(
        sources.metrics,
        sources.pages,
        sources.heartbeats,
        now=ctx.now,
        stale_after_seconds=config.stale_after_seconds,
    )
    unattributed = [m for m in monitors if m.unattributed]
    split = split_visible([m for m in monitors if not m.unattributed], scope)
    if split.hidden:
        ctx.notes["scope_dropped"] = len(split.hidden)
    if split.tags_unknown:
        # The policy filters by tag and no source gave these monitors' tag lists.
        ctx.notes["scope_tags_unknown"] = split.tags_unknown
    show = scope.show_addresses if scope else False
    redact = Redactor(split.visible, [*split.hidden, *unattributed], show)
    # Checked again, record by record, right before anything leaves.
    shown = [(redact.text(m.name), m) for m in split.visible if is_visible(m, scope)]
    shown.sort(key=lambda pair: (pair[0].casefold(), pair[1].id is None, pair[1].id or 0))
    return _View(shown, redact, sources.pages)


def _service(name: str, mon: Monitor, redact: Redactor) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": name,
        "type": mon.type,
        "status": mon.status,
        "status_since": mon.since,
        "since_is_lower_bound": mon.since_lower_bound,
        "stale": mon.stale,
        "latency_ms": mon.latency_ms,
        "uptime_24h": mon.uptime_24h,
        "uptime_30d": mon.uptime_30d,
        "cert_days_left": mon.cert_days,
        "last_check": mon.last_check,
        "groups": redact.texts(mon.groups),
        "tags": redact.texts(mon.tags if mon.tags_known else mon.metric_tags),
    }
    if redact.show_addresses:
        hostname = public_host(mon.hostname)
        record.update(url=public_url(mon.url), hostname=hostname, port=mon.port)
    return record


#: Where a service sits in the listing: shown name (casefolded), no-id flag, id, and the
#: ordinal among services equal in the first three (1.23 same-named series without id).
Position = tuple[str, bool, int, int]


def _positions(monitors: list[tuple[str, Monitor]]) -> list[Position]:
    seen: Counter[tuple[str, bool, int]] = Counter()
    out = []
    for name, mon in monitors:
        key = (name.casefold(), mon.id is None, mon.id or 0)
        out.append((*key, seen[key]))
        seen[key] += 1
    return out


def _encode_cursor(ctx: Ctx, pos: Position) -> str:
    name, no_id, mid, n = pos
    return ctx.seal_cursor({"v": 1, "a": name, "i": -1 if no_id else mid, "n": n})


def _decode_cursor(ctx: Ctx, cursor: str) -> Position:
    data = ctx.open_cursor(cursor, _BAD_CURSOR)
    if (
        set(data) != {"v", "a", "i", "n"}
        or data["v"] != 1
        or not isinstance(data["a"], str)
        or not all(_is_int(data[k]) for k in ("i", "n"))
        or data["i"] < -1
        or data["n"] < 0
    ):
        raise InvalidArguments(_BAD_CURSOR)
    return data["a"], data["i"] == -1, max(data["i"], 0), data["n"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_group(groups: list[str], wanted: str) -> bool:
    want = wanted.casefold()
    return any(g.casefold() == want or g.partition("/")[2].casefold() == want for g in groups)


@tool(
    "health_list_services", title="List monitored services", output=ServiceList, upstream=UPSTREAM
)
async def list_services(args: ListServicesArgs, ctx: Ctx) -> ServiceList:
    """Services monitored by Uptime Kuma that you may see: state (up, down, pending,
    maintenance, paused), since when, latency, uptime, certificate days left, last check.
    Filter by status or status-page group; page with next_cursor. Names are not unique:
    two services may share one."""
    after = _decode_cursor(ctx, args.cursor) if args.cursor else None
    view = await _view(ctx)
    records = []
    for (name, mon), pos in zip(view.monitors, _positions(view.monitors), strict=True):
        if after is not None and pos <= after:
            continue
        if args.status is not None and mon.status != args.status:
            continue
        record = _service(name, mon, view.redact)
        if args.group is not None and not _in_group(record["groups"], args.group):
            continue
        records.append((pos, record))
    page = records[: args.limit]
    next_cursor = _encode_cursor(ctx, page[-1][0]) if len(records) > args.limit else None
    return ServiceList(
        items=[Service(**r) for _, r in page], next_cursor=next_cursor, partial=ctx.partial
    )


def _incidents(pages: dict[str, PageData], slugs: set[str], redact: Redactor) -> list[Incident]:
    out = []
    for slug in sorted(slugs):
        page = pages.get(slug)
        for inc in page.incidents if page else ():
            out.append(
                Incident(
                    page=slug,
                    style=inc.style,
                    title=redact.text(inc.title)[:200],
                    content=redact.text(inc.content)[:MAX_INCIDENT_CHARS],
                    created=inc.created,
                    updated=inc.updated,
                )
            )
    return out


@tool(
    "health_get_service", title="Get one service's health", output=ServiceDetail, upstream=UPSTREAM
)
async def get_service(args: GetServiceArgs, ctx: Ctx) -> ServiceDetail:
    """One service by its exact name: state, uptime, recent checks (newest first) and the
    incident text posted on its status pages."""
    view = await _view(ctx)
    wanted = args.name.casefold()
    matches = [(n, m) for n, m in view.monitors if n.casefold() == wanted]
    exact = [(n, m) for n, m in matches if n == args.name]
    if not matches:
        raise NotFound("No service you may see has that name; see health_list_services.")
    name, mon = (exact or matches)[0]
    beats = [
        Heartbeat(time=b.time, status=b.status, latency_ms=b.ping)
        for b in reversed(mon.beats[-args.heartbeats :])
    ]
    maintenance: list[str] = []
    if mon.status == "maintenance":
        titles = {t for s in mon.pages if s in view.pages for t in view.pages[s].maintenance}
        maintenance = view.redact.texts(titles)
    return ServiceDetail(
        **_service(name, mon, view.redact),
        heartbeats=beats,
        incidents=_incidents(view.pages, mon.pages, view.redact),
        maintenance=maintenance,
        partial=ctx.partial,
    )


@tool("health_summary", title="Lab health summary", output=Summary, upstream=UPSTREAM)
async def summary(args: SummaryArgs, ctx: Ctx) -> Summary:
    """Counts of services by state, what is down or pending right now and since when (paused
    services are counted, not problems), and the incidents posted on the status pages."""
    view = await _view(ctx)
    counts = StatusCounts()
    problems = []
    for name, mon in view.monitors:
        setattr(counts, mon.status, getattr(counts, mon.status) + 1)
        if mon.status in ("down", "pending"):
            problems.append(
                Problem(
                    name=name,
                    status=mon.status,
                    since=mon.since,
                    since_is_lower_bound=mon.since_lower_bound,
                    stale=mon.stale,
                    last_check=mon.last_check,
                )
            )
    if len(problems) > MAX_PROBLEMS:
        problems, ctx.partial = problems[:MAX_PROBLEMS], True
    slugs = {s for _, m in view.monitors for s in m.pages}
    return Summary(
        total=len(view.monitors),
        counts=counts,
        stale=sum(m.stale for _, m in view.monitors),
        problems=problems,
        incidents=_incidents(view.pages, slugs, view.redact),
        partial=ctx.partial,
    )


TOOLS = (list_services, get_service, summary)
