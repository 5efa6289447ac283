"""Property: the upstream state is generated too (same-named monitors, paused monitors,
metrics without tags, pages without tags, tags listed twice, tag labels missing since the
last restart, URLs with credentials, hostile incident text), rendered by each version's
rules (``render.py``), and an independent oracle checks every tool result: exactly the
monitors the scope allows, each with its own status (never a hidden twin's), no paused
monitor as a problem, no hidden name, address or credential anywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capabilities.health.client import KumaClient
from capabilities.health.schemas import GetServiceArgs, HealthScope, ListServicesArgs, SummaryArgs
from capabilities.health.tools import get_service, list_services, summary
from gateway.capability import ToolContext
from gateway.errors import NotFound

from .fake_kuma import VERSIONS, FakeKuma
from .render import GenMonitor, GenState, install, metric_series
from .support import make_config, make_ctx, make_http

NOW = datetime(2026, 11, 25, 21, 45, 0, tzinfo=UTC)
#: No word is part of another, so a hidden name is never inside a visible one.
WORDS = ("alpha", "bravo", "kilo", "zulu")
TAGS = (("env", "lab"), ("env", "prod"), ("private", ""), ("tier", "core"))
GROUPS = ("Core", "Apps", None)
STATUS = {0: "down", 1: "up", 2: "pending", 3: "maintenance"}


@st.composite
def monitors(draw: st.DrawFn) -> tuple[GenMonitor, ...]:
    out = []
    for i in range(1, draw(st.integers(1, 6)) + 1):
        kind = draw(st.sampled_from(("http", "port", "push", "keyword")))
        host = f"h{i:02d}x{draw(st.integers(100, 999))}.lan"
        port = draw(st.integers(1024, 65000))
        creds = f"u{i}:pw{i}q{draw(st.integers(1000, 9999))}@" if draw(st.booleans()) else ""
        query = f"?token=tk{i}q{draw(st.integers(1000, 9999))}" if draw(st.booleans()) else ""
        url = f"http://{creds}{host}:{port}/p{i}{query}" if kind in ("http", "keyword") else None
        paused = draw(st.integers(0, 4)) == 0
        status = draw(st.integers(0, 3))
        out.append(
            GenMonitor(
                id=i,
                name=f"svc-{draw(st.sampled_from(WORDS))}",  # same names are frequent
                type=kind,
                url=url,
                hostname=host if kind == "port" else None,
                port=port if kind == "port" else None,
                tags=draw(tag_lists()),
                group=draw(st.sampled_from(GROUPS)),
                send_url=draw(st.booleans()),
                status=status,
                in_metrics=not paused,  # Uptime Kuma drops a paused monitor's series
                beats=(*draw(st.lists(st.integers(0, 3), max_size=3)), status),
                paused=paused,
                tags_at_monitor_start=draw(st.none() | st.integers(0, 2)),
            )
        )
    if draw(st.booleans()):  # a same-named twin: private, another status, often on no page
        orig = draw(st.sampled_from(out))
        i = len(out) + 1
        out.append(
            replace(
                orig,
                id=i,
                url=orig.url and orig.url.replace(f"h{orig.id:02d}x", f"h{i:02d}x"),
                hostname=orig.hostname and orig.hostname.replace(f"h{orig.id:02d}x", f"h{i:02d}x"),
                tags=(("private", ""),),
                group=draw(st.sampled_from((None, orig.group))),
                status=(orig.status + 1) % 4,
                beats=((orig.status + 1) % 4,),
            )
        )
    return tuple(out)


@st.composite
def tag_lists(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    """Tags as stored: the same tag (and value) may be listed twice."""
    tags: list[tuple[str, str]] = draw(st.lists(st.sampled_from(TAGS), max_size=2))
    repeat: bool = draw(st.booleans())
    return (*tags, tags[0]) if tags and repeat else tuple(tags)


def globs(values: list[str], *, none: int = 1) -> st.SearchStrategy[list[str] | None]:
    """``None`` (key not set) ``none`` times out of ``none + 1``, else a few globs."""
    pattern = st.sampled_from([*values, "*", "svc-*", "*o*", "nothing"])
    return st.one_of(*[st.none()] * none, st.lists(pattern, max_size=3))


Case = tuple[str, GenState, HealthScope]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    version = draw(st.sampled_from(VERSIONS))
    mons = draw(monitors())
    names = [f"svc-{w}" for w in WORDS]
    tags = ["env", "env=prod", "env=lab", "private", "tier=core", "env=lab,lab"]
    scope = HealthScope(
        names=draw(globs(names, none=2)),
        tags=draw(globs(tags)),
        groups=draw(globs(["lab/Core", "lab/*"], none=2)),
        exclude_names=draw(globs([*names, "*o*"], none=2)) or [],
        exclude_tags=draw(globs(tags, none=1)) or [],
        show_addresses=draw(st.booleans()),
    )
    if draw(st.integers(0, 2)) == 0:  # the shipped policy's hermes rule, often
        scope = HealthScope(
            exclude_tags=["private"], exclude_names=["*vault*"], show_addresses=scope.show_addresses
        )
    victim = draw(st.sampled_from(mons))
    where = victim.url or f"{victim.hostname or 'h99.lan'}:{victim.port or 80}"
    incident = draw(
        st.none()
        | st.just(
            f"{victim.name} at {where} broke. Router 10.1.2.3. then fd00::7a1, "
            f"see adm:pw9q{victim.id}zz@{victim.hostname or 'h98.lan'}:8080 now"
        )
    )
    state = GenState(
        mons, incident, NOW,
        show_tags=draw(st.booleans()),
        tags_at_start=draw(st.none() | st.frozensets(st.sampled_from(["env", "private", "tier"]))),
    )  # fmt: skip
    return version, state, scope


# ---- the oracle: computed from the generated state only ----------------------------------


def _reachable(m: GenMonitor) -> bool:
    """Some source reports it: a status page lists it, or /metrics has its series."""
    return m.group is not None or (m.in_metrics and not m.paused)


def _visible(m: GenMonitor, state: GenState, scope: HealthScope) -> bool:
    def hit(patterns: list[str], values: set[str]) -> bool:
        return any(fnmatchcase(v, p.casefold()) for p in patterns for v in values)

    name = {m.name.casefold()}
    groups = {f"lab/{m.group}".casefold()} if m.group else set()
    if scope.names is not None and not hit(scope.names, name):
        return False
    if scope.groups is not None and not hit(scope.groups, groups):
        return False
    if hit(scope.exclude_names, name):
        return False
    if scope.tags is None and not scope.exclude_tags:
        return True
    if m.group is None or not state.show_tags:  # only a page that shows tags lists them all
        return False
    keys = {f"{k}={v}" if v else k for k, v in m.tags} | {k for k, _ in m.tags}
    if scope.tags is not None and not hit(scope.tags, keys):
        return False
    return not hit(scope.exclude_tags, keys)


def _allowed_status(m: GenMonitor, state: GenState, version: str) -> set[str]:
    """The statuses a correct answer may give ``m``: its own, nothing a twin lends it, except
    where 1.23's data cannot tell (documented in the README)."""
    if m.paused:
        allowed = {"paused"}
        twins_live = any(o.name == m.name and o.in_metrics and not o.paused for o in state.monitors)
        if version.startswith("1.") and twins_live:  # no id: which twin paused is unknown
            allowed.add(STATUS[m.beats[-1]])
        return allowed
    allowed = {STATUS[m.status]}
    if version.startswith("1.") and m in metric_series(state, version).values():
        # equal label sets are one series upstream: the last update wins
        allowed |= {STATUS[o.status] for o in state.monitors if _same_series(o, m)}
    elif version.startswith("1."):
        allowed |= {STATUS[o.status] for o in metric_series(state, version).values()
                    if _same_series(o, m)}  # fmt: skip
    return allowed


def _same_series(a: GenMonitor, b: GenMonitor) -> bool:
    return (a.name, a.type, a.url, a.hostname, a.port) == (
        b.name,
        b.type,
        b.url,
        b.hostname,
        b.port,
    )


def _credentials(m: GenMonitor) -> list[str]:
    found = []
    if m.url and "@" in m.url:
        found.append(m.url.split("//")[1].split("@")[0].split(":")[1])  # the password
    if m.url and "?" in m.url:
        found.append(m.url.split("=")[1])  # the token
    return [*found, f"pw9q{m.id}zz"]


def _known_addresses(m: GenMonitor) -> list[str]:
    """What labgate can know of a monitor's address: /metrics has URL, hostname and port;
    a status page the URL of a monitor with ``sendUrl``."""
    if m.in_metrics and not m.paused:
        return _addresses(m)
    return _addresses(m) if m.group and m.send_url and m.url else []


def _addresses(m: GenMonitor) -> list[str]:
    found = [m.url, m.hostname]
    if m.url:
        netloc = m.url.split("/")[2].split("@")[-1]
        found += [netloc, netloc.split(":")[0]]
    if m.hostname:
        found.append(f"{m.hostname}:{m.port}")
    return [s for s in found if s]


CASES_RUN = [0]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
async def test_no_hidden_monitor_status_address_or_credential_ever_leaks(case: Case) -> None:
    version, state, scope = case
    CASES_RUN[0] += 1
    fake = FakeKuma(version)
    install(fake, state)
    config = make_config(status_pages=("lab",))
    reachable = [m for m in state.monitors if _reachable(m)]
    visible = [m for m in reachable if _visible(m, state, scope)]
    visible_names = {m.name for m in visible}
    async with make_http("http://kuma.test", transport=fake.transport()) as http:
        client = KumaClient(http, config)

        def ctx() -> ToolContext:
            return make_ctx(client, config, now=NOW, scope=scope)

        listed = await list_services.handler(ListServicesArgs(limit=100), ctx())
        summed = await summary.handler(SummaryArgs(), ctx())
        outputs = [listed.model_dump_json(), summed.model_dump_json()]
        for name in sorted({m.name for m in state.monitors}):
            try:
                got = await get_service.handler(GetServiceArgs(name=name), ctx())
            except NotFound:
                assert name not in visible_names
            else:
                assert name in visible_names
                outputs.append(got.model_dump_json())

    _check_listing(listed, summed, visible, state, version, scope)
    _check_no_leak("\n".join(outputs), listed, reachable, visible, state, scope)


def _check_listing(
    listed: Any, summed: Any, visible: list[Any], state: Any, version: str, scope: Any
) -> None:
    """Exactly the monitors in scope, each with a status of its own."""
    visible_names = {m.name for m in visible}
    assert {s.name for s in listed.items} == visible_names
    for name in visible_names:
        allowed = set().union(
            *(_allowed_status(m, state, version) for m in visible if m.name == name)
        )
        assert {s.status for s in listed.items if s.name == name} <= allowed
        assert {p.status for p in summed.problems if p.name == name} <= allowed - {"paused"}
    for item in listed.items:
        assert not any("," in tag for tag in item.tags)  # a tag is never a list of values
        own = [m for m in visible if m.name == item.name]
        if len(own) == 1 and own[0].group and state.show_tags:  # a tag listed twice is one
            assert item.tags == sorted({f"{k}={v}" if v else k for k, v in own[0].tags})
        if scope.show_addresses:
            assert item.url is None or not {"@", "?"} & set(item.url)


def _check_no_leak(
    text: str, listed: Any, reachable: list[Any], visible: list[Any], state: Any, scope: Any
) -> None:
    """No credential, no hidden monitor, no address the scope does not show."""
    visible_names = {m.name for m in visible}
    for m in state.monitors:
        for secret in _credentials(m):
            assert secret not in text
        if m in reachable and m.name not in visible_names:
            assert m.name not in text
        if not scope.show_addresses:
            for address in _addresses(m):
                assert address not in text
        elif m in reachable and m not in visible:  # shown addresses are the visible ones
            for address in _known_addresses(m):
                assert address not in text
    if not scope.show_addresses:
        assert "10.1.2.3" not in text and "fd00::7a1" not in text
        assert all(s.url is None and s.hostname is None and s.port is None for s in listed.items)
