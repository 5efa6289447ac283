"""Every query of the Grafana dashboard runs, macros expanded, against the real audit table.

The table is created by the real migrations and filled through the real journal and shipper
with seeded records, in a schema of its own inside the session database (``pg_dsn``), and
read back as a role that may only SELECT, as the provisioned datasource's role would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from gateway.audit.journal import Journal
from gateway.audit.postgres import PostgresSink
from gateway.audit.record import AuditRecord
from tests.deploy.grafana import Variable, expand_macros, interpolate
from tests.support.live import ROOT

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "labgate-audit.json"
NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(hours=6), NOW + timedelta(minutes=1)
FOLLOW = "req-follow-me-0001"
NUMERIC = {"int2", "int4", "int8", "float4", "float8", "numeric"}

# Expected columns per panel (type "time" means timestamptz or epoch seconds).
TABLE_COLUMNS: dict[str, list[str]] = {
    "Calls": ["calls"],
    "Denied": ["denied"],
    "Failed": ["failed"],
    "Policy reload failures": ["failures"],
    "Per-agent activity": [
        "client", "agent", "calls", "allowed", "denied", "failed", "tools", "last_call",
    ],
    "Denials with reasons and rule ids": [
        "tool", "rule_id", "reasons", "client", "denials", "last_seen",
    ],
    "Authentication failures": ["reason", "face", "failures", "last_seen"],
    "Latency by tool": ["tool", "calls", "p50_ms", "p95_ms", "p99_ms", "max_ms"],
    "Upstream errors": [
        "upstream", "error_code", "upstream_status", "errors", "tools", "last_seen",
    ],
    "Policy reloads": ["time", "result", "policy_version", "trigger", "error"],
    "Calls by policy version": ["policy_version", "first_call", "last_call", "calls", "denied"],
    "Policy versions in force": ["versions"],
    "Replicas and their policy version": [
        "replica", "policy_version", "last_record", "calls", "disagrees",
    ],
    "Shadow policy disagreements": [
        "tool", "change", "live", "live_rule", "shadow", "shadow_rule", "client", "shadow_version",
        "calls", "last_seen",
    ],
}  # fmt: skip
SERIES_VALUES: dict[str, list[str]] = {
    "Calls over time by tool and decision": ["calls"],
    "Per-agent activity over time": ["calls"],
    "Denials over time by reason": ["denials"],
    "Latency percentiles": ["p50", "p95", "p99"],
    "Upstream errors over time": ["errors"],
    "Calls over time by replica": ["calls"],
}


SHADOW_NARROW = {"change": "narrow", "decision": "deny", "rule_id": "hermes-reads",
                 "reasons": ["arg-out-of-range"], "policy_version": "s1-shadow"}  # fmt: skip
SHADOW_WIDEN = {"change": "widen", "decision": "allow", "rule_id": "health-all",
                "reasons": ["allowed"], "policy_version": "s1-shadow"}  # fmt: skip


def _call(minutes_ago: float, tool: str, decision: str, **kw: Any) -> AuditRecord:
    client = kw.pop("client", "hermes")
    defaults: dict[str, Any] = {
        "kind": "call",
        "time": (NOW - timedelta(minutes=minutes_ago)).isoformat(timespec="microseconds"),
        "request_id": uuid.uuid4().hex,
        "face": "rest",
        "capability": tool.split("_")[0],
        "tool": tool,
        "decision": decision,
        "policy_version": "v2-abc123",
        "latency_ms": 12.0,
        # Two replicas: gw-b serves other-agent, gw-a everyone else.
        "replica": "gw-b" if client == "other-agent" else "gw-a",
    }
    if client is not None:
        defaults |= {
            "sub": f"sub-{client}",
            "client_id": client,
            "username": f"{client}-bot",
            "groups": ["agents"],
            "token_id": uuid.uuid4().hex,
        }
    record = AuditRecord(**(defaults | kw))
    if record.kind == "auth_failure":
        record.tool = None  # an unauthenticated request names no tool
    return record


def seed_records() -> list[AuditRecord]:
    def at(minutes: float) -> str:
        return (NOW - timedelta(minutes=minutes)).isoformat(timespec="microseconds")

    records = [
        AuditRecord(kind="policy_reload", decision="ok", policy_version="v1-000000",
                    time=at(300), notes={"trigger": "start"}),
        AuditRecord(kind="policy_reload", decision="failed", policy_version="v1-000000",
                    time=at(200), reasons=["policy-error"],
                    notes={"trigger": "watch", "error": "documents.yaml:4: unknown tool"}),
        AuditRecord(kind="policy_reload", decision="ok", policy_version="v2-abc123",
                    time=at(190), notes={"trigger": "sighup"}),
        # gw-b has since loaded another version, gw-a has not: the replicas disagree.
        AuditRecord(kind="policy_reload", decision="ok", policy_version="v3-def456",
                    time=at(10), notes={"trigger": "watch"}, replica="gw-b"),
        _call(250, "astro_list_sessions", "allow", policy_version="v1-000000", latency_ms=40.0,
              upstream="influxdb", upstream_status=200, result_count=3, result_bytes=812),
        _call(5 * 24 * 60, "astro_list_sessions", "allow"),  # outside the time range
        _call(1, "documents_search", "allow", request_id=FOLLOW, latency_ms=88.0,
              arguments={"query": "[redacted]", "page_size": 5}, upstream="paperless",
              upstream_status=200, result_count=5, face="mcp"),
    ]  # fmt: skip
    for i in range(20):
        records.append(
            _call(
                150 - i * 7,
                "astro_list_sessions",
                "allow",
                latency_ms=5.0 + i * 10,
                upstream="influxdb",
                upstream_status=200,
            )
        )
        records.append(
            _call(
                149 - i * 7,
                "health_list_services",
                "allow",
                latency_ms=2.0 + i,
                client="other-agent",
                upstream="uptime_kuma",
                upstream_status=200,
            )
        )
    for i in range(6):
        records.append(
            _call(
                100 - i,
                "documents_search",
                "deny",
                rule_id="hermes-reads",
                reasons=["arg-out-of-range"],
                error_code="denied",
                arguments={"page_size": 500},
            )
        )
    records += [
        _call(90, "documents_get", "deny", reasons=["default-deny"], error_code="denied",
              client="other-agent"),
        _call(80, "astro_list_sessions", "deny", rule_id="hermes-astro",
              reasons=["rate-limited"], error_code="rate_limited"),
        _call(70, "astro_list_sessions", "deny", client=None, reasons=["unauthenticated",
              "bad-signature"], error_code="unauthenticated", capability=None,
              policy_version=None),
        # rejected authentication since the gate: aggregated auth_failure records with a count
        _call(65, "-", "deny", client=None, kind="auth_failure", capability=None,
              policy_version=None, reasons=["unauthenticated", "bad-signature"],
              error_code="unauthenticated", latency_ms=None,
              notes={"client_address": "203.0.113.9", "count": 40, "window_seconds": 1.0}),
        _call(64, "-", "deny", client=None, kind="auth_failure", capability=None,
              policy_version=None, reasons=["unauthenticated", "rate-limited"],
              error_code="rate_limited", face="mcp", latency_ms=None,
              notes={"client_address": "203.0.113.9", "count": 7, "window_seconds": 1.0}),
        _call(60, "astro_list_sessions", "error", rule_id="hermes-astro", reasons=["allowed"],
              upstream="influxdb", error_code="upstream_unavailable", latency_ms=3000.0),
        _call(50, "documents_search", "error", rule_id="hermes-reads", reasons=["allowed"],
              upstream="paperless", upstream_status=503, error_code="upstream_error"),
        # The shadow set (never enforced) disagreed: noted in the record.
        *(_call(30 + i, "documents_search", "allow", rule_id="hermes-reads",
                reasons=["allowed"], notes={"shadow": SHADOW_NARROW}) for i in range(2)),
        _call(20, "health_list_services", "deny", reasons=["default-deny"], error_code="denied",
              notes={"shadow": SHADOW_WIDEN}),
        # Hostile text in the typed columns must neither break shipping nor the queries.
        _call(40, "documents_search", "deny", rule_id="hermes-reads",
              reasons=["arg-not-allowed"], arguments={"query": "x'); DROP TABLE t; --\x00"}),
    ]  # fmt: skip
    return records


async def _seed(dsn: str, schema: str, role: str, journal_path: Path) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await admin.close()
    journal = Journal(journal_path)
    await journal.open()
    try:
        for record in seed_records():
            await journal.append(record)
        sink = PostgresSink(f"{dsn}?search_path={schema}", journal)  # the real shipper
        while await sink.ship_once():
            pass
        assert sink.lag == 0
        await sink.stop()
    finally:
        await journal.close()
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        await admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        await admin.execute(
            f'GRANT SELECT ON "{schema}".labgate_audit, "{schema}".labgate_audit_calls TO "{role}"'
        )
    finally:
        await admin.close()


async def _drop(dsn: str, schema: str, role: str) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await admin.close()


@dataclass
class AuditDb:
    dsn: str  # connects as the read-only role, search_path set to the seeded schema
    admin_dsn: str


@pytest.fixture(scope="module")
def audit_db(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditDb]:
    suffix = uuid.uuid4().hex[:8]
    schema, role = f"grafana_{suffix}", f"labgate_grafana_{suffix}"
    journal = tmp_path_factory.mktemp("grafana") / "audit.db"
    try:
        asyncio.run(_seed(pg_dsn, schema, role, journal))
        reader = pg_dsn.replace("postgres@", f"{role}@", 1)
        yield AuditDb(
            dsn=f"{reader}?search_path={schema}", admin_dsn=f"{pg_dsn}?search_path={schema}"
        )
    finally:
        asyncio.run(_drop(pg_dsn, schema, role))


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.extend(panel.get("panels", []))
        if panel["type"] != "row":
            out.append(panel)
    return out


class Runner:
    """Interpolates, expands and runs a dashboard query as the read-only role."""

    def __init__(self, db: AuditDb, dashboard: dict[str, Any]) -> None:
        self.db = db
        self.specs = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.variables: dict[str, Variable] = {}
        for name, spec in self.specs.items():
            options: list[str] = []
            if spec["type"] == "custom":
                options = [o.strip() for o in spec["query"].split(",")]
            elif spec["type"] == "query":
                options = [r[0] for r in self.fetch_rows(spec["query"])[1]]
            self.variables[name] = Variable.from_dashboard(spec, options)

    def sql(self, raw: str) -> str:
        builtins = {"__interval": "5m", "__interval_ms": "300000", "__rate_interval": "5m"}
        return expand_macros(interpolate(raw, self.variables, builtins), START, END)

    def fetch_rows(self, raw: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
        return asyncio.run(self._fetch(self.sql(raw)))

    async def _fetch(self, sql: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
        conn = await asyncpg.connect(self.db.dsn)
        try:
            stmt = await conn.prepare(sql)
            columns = [(a.name, a.type.name) for a in stmt.get_attributes()]
            rows = [tuple(r) for r in await stmt.fetch()]
            return columns, rows
        finally:
            await conn.close()


@pytest.fixture
def runner(audit_db: AuditDb, dashboard: dict[str, Any]) -> Runner:
    return Runner(audit_db, dashboard)


def _provisioned_source() -> dict[str, Any]:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/labgate.yaml").read_text())
    (source,) = provisioned["datasources"]
    assert isinstance(source, dict)
    return source


def test_every_panel_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    # Provisioning binds the variable to the provisioned uid; a dashboard imported in the UI
    # (where no uid can be set) gets the first PostgreSQL datasource and a picker to change it.
    source = _provisioned_source()
    assert "password" not in source and "$__file{" in source["secureJsonData"]["password"]
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["name"] == "datasource"
    assert variable["query"] == source["type"]
    assert variable["current"]["value"] == source["uid"]
    wanted = {"type": source["type"], "uid": "${datasource}"}
    panels = _panels(dashboard)
    titles = {p["title"] for p in panels}
    assert titles == set(TABLE_COLUMNS) | set(SERIES_VALUES) | {"Request trail"}
    for panel in panels:
        assert panel["datasource"] == wanted, panel["title"]
        assert all(t["datasource"] == wanted for t in panel["targets"]), panel["title"]
        assert [t["rawSql"] for t in panel["targets"]], panel["title"]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            assert var["datasource"] == wanted
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("datasource", {}).get("type") == source["type"]:
            assert annotation["datasource"] == wanted
    assert source["uid"] not in json.dumps(dashboard["panels"])  # no panel pinned to a uid
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/labgate.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_datasource_tls_agrees_with_the_bundled_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    postgres = compose["services"]["postgres"]
    command = " ".join(postgres.get("command") or [])
    bundled_tls = "ssl=on" in command
    sslmode = _provisioned_source()["jsonData"]["sslmode"]
    assert sslmode == ("verify-full" if bundled_tls else "disable")
    docs = (ROOT / "docs" / "observability.md").read_text()
    assert "sslmode: verify-full" in docs and "sslRootCertFile" in docs  # TLS PostgreSQL


def test_variable_queries_return_the_seeded_values(runner: Runner) -> None:
    assert runner.variables["tool"].options == [
        "astro_list_sessions", "documents_get", "documents_search", "health_list_services",
    ]  # fmt: skip
    assert runner.variables["client"].options == ["(none)", "hermes", "other-agent"]
    assert runner.variables["decision"].options == ["allow", "deny", "error"]
    assert runner.variables["replica"].options == ["gw-a", "gw-b"]


def _run_all_panels(runner: Runner, dashboard: dict[str, Any]) -> dict[str, Any]:
    results = {}
    for panel in _panels(dashboard):
        (target,) = panel["targets"]
        results[panel["title"]] = (target["format"], runner.fetch_rows(target["rawSql"]))
    return results


def test_every_panel_query_returns_rows_of_the_expected_shape(
    runner: Runner, dashboard: dict[str, Any]
) -> None:
    runner.variables["request_id"].current = FOLLOW
    for title, (fmt, (columns, rows)) in _run_all_panels(runner, dashboard).items():
        names = [c[0] for c in columns]
        assert rows, f"{title}: no rows"
        if title in SERIES_VALUES:
            assert fmt == "time_series"
            assert names[0] == "time", title
            assert columns[0][1] in NUMERIC | {"timestamptz"}, title
            assert names[1:] in (SERIES_VALUES[title], ["metric", *SERIES_VALUES[title]]), title
            for name, type_name in columns[1:]:
                assert name == "metric" or type_name in NUMERIC, (title, name, type_name)
            times = [r[0] for r in rows]
            assert times == sorted(times), f"{title}: time series must be sorted by time"
        elif title in TABLE_COLUMNS:
            assert fmt == "table"
            assert names == TABLE_COLUMNS[title], title
        else:
            assert title == "Request trail"


def test_panel_values_match_the_seeded_records(runner: Runner, dashboard: dict[str, Any]) -> None:
    results = {t: r for t, (_, r) in _run_all_panels(runner, dashboard).items()}
    calls = [r for r in seed_records() if r.kind == "call"]
    # One call is five days old: the time filter leaves it out.
    assert results["Calls"][1] == [(len(calls) - 1,)]
    assert results["Denied"][1] == [(sum(r.decision == "deny" for r in calls),)]
    assert results["Failed"][1] == [(2,)]
    assert results["Policy reload failures"][1] == [(1,)]

    denials = {(r[0], r[1], r[2]): r[4] for r in results["Denials with reasons and rule ids"][1]}
    assert denials[("documents_search", "hermes-reads", "arg-out-of-range")] == 6
    assert denials[("documents_get", "(no rule)", "default-deny")] == 1

    auth = results["Authentication failures"][1]
    assert [(r[0], r[1], r[2]) for r in auth] == [
        ("bad-signature", "rest", 41),
        ("rate-limited", "mcp", 7),
    ]

    agents = {r[0]: r for r in results["Per-agent activity"][1]}
    assert agents["other-agent"][2:6] == (21, 20, 1, 0)
    assert agents["(none)"][1] == "(anonymous)"

    upstream = {(r[0], r[1]): r[3] for r in results["Upstream errors"][1]}
    assert upstream == {("influxdb", "upstream_unavailable"): 1, ("paperless", "upstream_error"): 1}

    for _, p50, p95, p99 in results["Latency percentiles"][1]:
        assert p50 <= p95 <= p99

    reloads = results["Policy reloads"][1]
    failed = [r for r in reloads if r[1] == "failed"]
    assert failed and failed[0][4] == "documents.yaml:4: unknown tool"
    assert {r[3] for r in reloads} == {"start", "watch", "sighup"}
    assert results["Policy versions in force"][1] == [(2,)]
    replicas = {r[0]: (r[1], r[3]) for r in results["Replicas and their policy version"][1]}
    assert replicas["gw-b"] == ("v3-def456", 21)
    assert replicas["gw-a"][0] == "v2-abc123"
    assert sum(r[4] for r in results["Replicas and their policy version"][1]) == 1
    versions = {r[0]: r[3] for r in results["Calls by policy version"][1]}
    assert versions["v1-000000"] == 1

    shadow = [r[:9] for r in results["Shadow policy disagreements"][1]]
    assert shadow == [
        ("documents_search", "narrow", "allow", "hermes-reads", "deny", "hermes-reads", "hermes",
         "s1-shadow", 2),
        ("health_list_services", "widen", "deny", "(no rule)", "allow", "health-all", "hermes",
         "s1-shadow", 1),
    ]  # fmt: skip


def test_selected_variables_narrow_every_panel(runner: Runner, dashboard: dict[str, Any]) -> None:
    runner.variables["tool"].current = ["documents_search"]
    runner.variables["client"].current = ["hermes"]
    results = {t: r for t, (_, r) in _run_all_panels(runner, dashboard).items()}
    assert {r[1].split(" ")[0] for r in results["Calls over time by tool and decision"][1]} == {
        "documents_search"
    }
    assert {r[0] for r in results["Denials with reasons and rule ids"][1]} == {"documents_search"}
    assert {r[0] for r in results["Per-agent activity"][1]} == {"hermes"}
    runner.variables["decision"].current = ["error"]
    assert runner.fetch_rows(
        next(p for p in _panels(dashboard) if p["title"] == "Calls")["targets"][0]["rawSql"]
    )[1] == [(1,)]


def test_request_trail_follows_one_request(runner: Runner, dashboard: dict[str, Any]) -> None:
    trail = next(p for p in _panels(dashboard) if p["title"] == "Request trail")
    sql = trail["targets"][0]["rawSql"]
    runner.variables["request_id"].current = FOLLOW
    columns, rows = runner.fetch_rows(sql)
    assert len(rows) == 1
    row = dict(zip([c[0] for c in columns], rows[0], strict=True))
    assert row["tool"] == "documents_search" and row["face"] == "mcp"
    assert json.loads(row["arguments"]) == {"page_size": 5, "query": "[redacted]"}


@pytest.mark.parametrize(
    "hostile",
    ["x' OR '1'='1", "x'; DELETE FROM labgate_audit; --", "' UNION SELECT * FROM pg_user --"],
)
def test_request_id_box_cannot_inject_sql(
    runner: Runner, dashboard: dict[str, Any], hostile: str
) -> None:
    trail = next(p for p in _panels(dashboard) if p["title"] == "Request trail")
    runner.variables["request_id"].current = hostile
    _, rows = runner.fetch_rows(trail["targets"][0]["rawSql"])
    assert rows == []


def test_annotations_run(runner: Runner, dashboard: dict[str, Any]) -> None:
    (annotation,) = dashboard["annotations"]["list"]
    columns, rows = runner.fetch_rows(annotation["target"]["rawSql"])
    assert [c[0] for c in columns] == ["time", "text", "tags"]
    assert len(rows) == 4
    assert rows[-1][1] == "policy ok: v3-def456 on gw-b"  # which replica reloaded


def test_datasource_role_can_only_read(audit_db: AuditDb) -> None:
    async def attempt() -> None:
        conn = await asyncpg.connect(audit_db.dsn)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM labgate_audit")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("UPDATE labgate_audit SET decision = 'allow'")
        finally:
            await conn.close()
        admin = await asyncpg.connect(audit_db.admin_dsn)
        try:
            assert await admin.fetchval("SELECT count(*) FROM labgate_audit") == len(seed_records())
        finally:
            await admin.close()

    asyncio.run(attempt())
