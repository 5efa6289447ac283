"""Property: for generated policies and fixture states, on every recorded version, no hidden
monitor, URL, hostname or port ever appears in any tool result, and exactly the monitors
the scope allows are listed."""

from __future__ import annotations

from datetime import UTC, datetime
from fnmatch import fnmatchcase

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capabilities.health.client import KumaClient
from capabilities.health.schemas import GetServiceArgs, HealthScope, ListServicesArgs, SummaryArgs
from capabilities.health.tools import get_service, list_services, summary
from gateway.capability import ToolContext
from gateway.errors import NotFound

from .fake_kuma import VERSIONS, FakeKuma
from .render import GenMonitor, GenState, install
from .support import make_config, make_ctx, make_http

NOW = datetime(2026, 11, 25, 21, 45, 0, tzinfo=UTC)
WORDS = ("alpha", "bravo", "delta", "kilo", "oscar", "zulu")
TAGS: tuple[dict[str, str], ...] = (
    {"env": "prod"},
    {"env": "lab"},
    {"private": ""},
    {"tier": "core"},
    {},
)
GROUPS = ("Core", "Apps", None)


@st.composite
def monitors(draw: st.DrawFn) -> tuple[GenMonitor, ...]:
    count = draw(st.integers(1, 6))
    out = []
    for i in range(1, count + 1):
        kind = draw(st.sampled_from(("http", "port", "push", "keyword")))
        host = f"h{i:03d}-{draw(st.integers(1000, 9999))}.lan"
        port = draw(st.integers(1024, 65000))
        url = f"http://{host}:{port}/p{i}" if kind in ("http", "keyword") else None
        group = draw(st.sampled_from(GROUPS))
        in_metrics = draw(st.booleans()) or group is None
        status = draw(st.integers(0, 3))
        out.append(
            GenMonitor(
                id=i,
                name=f"svc-{i:03d}-{draw(st.sampled_from(WORDS))}",
                type=kind,
                url=url,
                hostname=host if kind == "port" else None,
                port=port if kind == "port" else None,
                tags=draw(st.sampled_from(TAGS)),
                group=group,
                send_url=draw(st.booleans()),
                status=status,
                in_metrics=in_metrics,
                beats=(*draw(st.lists(st.integers(0, 3), max_size=4)), status),
            )
        )
    return tuple(out)


def globs(values: list[str]) -> st.SearchStrategy[list[str] | None]:
    pattern = st.sampled_from([*values, "*", "svc-00*", "*o*", "nothing"])
    return st.none() | st.lists(pattern, max_size=3)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, GenState, HealthScope]:
    version = draw(st.sampled_from(VERSIONS))
    mons = draw(monitors())
    names = [m.name for m in mons]
    tags = ["env", "env=prod", "env=lab", "private", "tier=core"]
    scope = HealthScope(
        names=draw(globs(names)), tags=draw(globs(tags)), groups=draw(globs(["lab/Core", "lab/*"])),
        exclude_names=draw(globs(names)) or [], exclude_tags=draw(globs(tags)) or [],
        show_addresses=draw(st.booleans()),
    )  # fmt: skip
    victim = draw(st.sampled_from(mons))
    # Addresses a source never reported are caught by shape: URLs and host.name:port.
    where = victim.url or f"{victim.hostname}:{victim.port}"
    incident = draw(st.none() | st.just(f"{victim.name} at {where} broke (see 10.1.2.3)"))
    return version, GenState(mons, incident, NOW), scope


def _oracle(m: GenMonitor, version: str, scope: HealthScope) -> bool:
    """Visibility computed independently from the generated state."""
    tag_data = bool(m.group) or (version == "2.5.3" and m.in_metrics)
    tags = {f"{k}={v}" if v else k for k, v in m.tags.items()} if tag_data else set()
    keys = {t.casefold() for t in tags} | {t.partition("=")[0].casefold() for t in tags}
    groups = {f"lab/{m.group}".casefold()} if m.group else set()

    def hit(patterns: list[str], values: set[str]) -> bool:
        return any(fnmatchcase(v, p.casefold()) for p in patterns for v in values)

    name = {m.name.casefold()}
    return (
        (scope.names is None or hit(scope.names, name))
        and (scope.tags is None or hit(scope.tags, keys))
        and (scope.groups is None or hit(scope.groups, groups))
        and not hit(scope.exclude_names, name)
        and not hit(scope.exclude_tags, keys)
    )


def _secrets(m: GenMonitor) -> list[str]:
    found = [m.url, m.hostname]
    if m.url:
        found.append(m.url.split("/")[2])  # host:port
        found.append(m.url.split("/")[2].split(":")[0])
    if m.hostname:
        found.append(f"{m.hostname}:{m.port}")
    return [s for s in found if s]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
async def test_no_hidden_monitor_or_address_ever_leaks(
    case: tuple[str, GenState, HealthScope],
) -> None:
    version, state, scope = case
    fake = FakeKuma(version)
    install(fake, state)
    config = make_config(status_pages=("lab",))
    async with make_http("http://kuma.test", transport=fake.transport()) as http:
        client = KumaClient(http, config)
        outputs: list[str] = []

        def ctx() -> ToolContext:
            return make_ctx(client, config, now=NOW, scope=scope)

        listed = await list_services.handler(ListServicesArgs(limit=100), ctx())
        outputs.append(listed.model_dump_json())
        outputs.append((await summary.handler(SummaryArgs(), ctx())).model_dump_json())
        visible = {m.name for m in state.monitors if _oracle(m, version, scope)}
        assert {s.name for s in listed.items} == visible
        for m in state.monitors:
            try:
                got = await get_service.handler(GetServiceArgs(name=m.name), ctx())
            except NotFound:
                assert m.name not in visible
            else:
                assert m.name in visible
                outputs.append(got.model_dump_json())
    text = "\n".join(outputs)
    if not scope.show_addresses:
        assert "10.1.2.3" not in text
    for m in state.monitors:
        if m.name not in visible:
            assert m.name not in text
        if not scope.show_addresses:
            for secret in _secrets(m):
                assert secret not in text
    if not scope.show_addresses:
        assert '"port":null' in text or not listed.items
        assert all(s.url is None and s.hostname is None and s.port is None for s in listed.items)
