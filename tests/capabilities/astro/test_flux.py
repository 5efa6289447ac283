"""The Flux backend: captured requests, canned annotated-CSV answers, opt-in live test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from influxdb_client._sync.api_client import ApiClient
from influxdb_client.client._base import _BaseQueryApi
from influxdb_client.configuration import Configuration

from capabilities.astro.flux import DIALECT, FluxClient, extern_ast, flux_query
from capabilities.astro.frames import AstroBackend, FrameQuery
from capabilities.astro.schemas import AstroConfig, AstroScope, ListSessionsArgs
from capabilities.astro.tools import list_sessions
from gateway.capability import Principal, ToolContext
from gateway.errors import UpstreamError

from .fake_influx2 import FakeInflux2, fake_influx2
from .test_injection import CORPUS

CSV = """\
#datatype,string,long,dateTime:RFC3339,string,string,string,string,double,double,long,double,double,string
#group,false,false,false,true,true,true,true,false,false,false,false,false,false
#default,_result,,,,,,,,,,,,
,result,table,_time,image_type,target,filter,camera,exposure_s,hfr,stars,guiding_rms_arcsec,sensor_temp_c,file
,,0,2024-10-02T23:40:00Z,LIGHT,M31,Ha,Cam,300,2.1,900,0.7,-10,D:/a.fits
,,0,2024-10-02T22:00:00Z,LIGHT,M31,Ha,Cam,300,2.5,800,0.9,-9.8,D:/b.fits
,,0,2024-10-02T21:54:50Z,LIGHT,M31,Ha,Cam,300,2.3,850,0.8,-9.9,
,,0,2024-10-01T22:00:00Z,LIGHT,M42,L,Cam,120,,,,,

"""
ERROR_CSV = """\
#datatype,string,string
#group,true,true
#default,,
,error,reference
,"failed to compile: type error",897
"""


@pytest.fixture
def fake() -> Iterator[FakeInflux2]:
    with fake_influx2() as server:
        yield server


def _ctx(url: str, scope: AstroScope | None = None) -> tuple[ToolContext, httpx.AsyncClient]:
    cfg = AstroConfig(backend="flux", org="lab", bucket="astro", timezone="Europe/Paris")
    http = httpx.AsyncClient(base_url=url, headers={"Authorization": "Token t"})
    ctx = ToolContext(
        principal=Principal(sub="hermes"),
        request_id="t",
        now=datetime(2024, 12, 1, tzinfo=UTC),
        scope=scope,
        config=cfg,
        clients={AstroBackend: AstroBackend(FluxClient(http, cfg))},
    )
    return ctx, http


def _client() -> ApiClient:
    return ApiClient(Configuration())  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("payload", ["M31", *CORPUS])
async def test_request_is_template_plus_extern_literals(fake: FakeInflux2, payload: str) -> None:
    fake.body = CSV
    ctx, http = _ctx(fake.url, AstroScope(targets=["M*", "*"]))
    async with http:
        await list_sessions.handler(
            ListSessionsArgs(start=date(2024, 10, 1), end=date(2024, 10, 2), target=payload), ctx
        )
    (req,) = fake.requests
    assert req["path"] == "/api/v2/query?org=lab"
    body = req["json"]
    cfg = AstroConfig(backend="flux", bucket="astro")
    template, params = flux_query(
        "astro",
        cfg.wide,
        FrameQuery(
            datetime(2000, 1, 1, tzinfo=UTC),
            datetime(2000, 1, 2, tzinfo=UTC),
            target="placeholder",
            target_globs=("M*", "*"),
            limit=cfg.max_rows,
        ),
    )
    assert body["query"] == template  # the same text whatever the agent sent
    assert body["dialect"] == DIALECT
    literals = {
        s["assignment"]["id"]["name"]: s["assignment"]["init"] for s in body["extern"]["body"]
    }
    assert literals["p_target"] == {"type": "StringLiteral", "value": payload}
    assert literals["p_start"]["type"] == "DateTimeLiteral"
    assert literals["p_start"]["value"] == "2024-10-01T10:00:00.000000000Z"  # noon in Paris (CEST)
    assert set(literals) == set(params)


def test_extern_equals_influxdb_client_serialisation() -> None:
    params: dict[str, object] = {
        "p_start": datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "p_target": 'x") |> drop() //',
        "p_limit": 5,
        "p_ratio": 0.5,
        "p_flag": True,
    }
    ast = _BaseQueryApi._build_flux_ast(params)
    theirs = _client().sanitize_for_serialization(ast)  # type: ignore[no-untyped-call]
    assert extern_ast(params) == theirs
    dialect = _client().sanitize_for_serialization(_BaseQueryApi.default_dialect)  # type: ignore[no-untyped-call]
    assert dialect == DIALECT


async def test_canned_csv_becomes_sessions(fake: FakeInflux2) -> None:
    fake.body = CSV
    ctx, http = _ctx(fake.url)
    async with http:
        out = await list_sessions.handler(
            ListSessionsArgs(start=date(2024, 10, 1), end=date(2024, 10, 2)), ctx
        )
    assert [(i.night, i.target, i.frames) for i in out.items] == [
        (date(2024, 10, 2), "M31", 3),
        (date(2024, 10, 1), "M42", 1),
    ]
    m31 = out.items[0]
    assert m31.integration_s == 900 and m31.interruptions == 1 and m31.lost_minutes == 95.0
    assert m31.quality.hfr_median == 2.3 and out.partial is False


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, ERROR_CSV),
        (400, '{"code":"invalid","message":"x"}'),
        (401, '{"code":"unauthorized","message":"unauthorized access"}'),
        (404, '{"code":"not found","message":"bucket \\"astro\\" not found"}'),
    ],
)
async def test_errors_are_mapped(fake: FakeInflux2, status: int, body: str) -> None:
    fake.status, fake.body = status, body
    ctx, http = _ctx(fake.url)
    async with http:
        with pytest.raises(UpstreamError) as e:
            await list_sessions.handler(
                ListSessionsArgs(start=date(2024, 10, 1), end=date(2024, 10, 2)), ctx
            )
    assert "failed" not in e.value.detail and "bucket" not in e.value.detail


# Opt-in live test against a real InfluxDB 2.x (none can run here): set
# LABGATE_TEST_INFLUX2_URL, _TOKEN, _ORG and _BUCKET (holding the wide layout).
LIVE = {k: os.getenv(f"LABGATE_TEST_INFLUX2_{k}") for k in ("URL", "TOKEN", "ORG", "BUCKET")}


@pytest.mark.skipif(not all(LIVE.values()), reason="no InfluxDB 2.x: set LABGATE_TEST_INFLUX2_*")
async def test_live_influx2() -> None:
    cfg = AstroConfig(backend="flux", org=LIVE["ORG"], bucket=LIVE["BUCKET"] or "astro")
    async with httpx.AsyncClient(
        base_url=LIVE["URL"] or "", headers={"Authorization": f"Token {LIVE['TOKEN']}"}
    ) as http:
        ctx = ToolContext(
            Principal(sub="t"),
            "t",
            datetime.now(UTC),
            None,
            cfg,
            {AstroBackend: AstroBackend(FluxClient(http, cfg))},
        )
        today = datetime.now(UTC).date()
        out = await list_sessions.handler(
            ListSessionsArgs(start=today.replace(day=1), end=today), ctx
        )
    assert out.partial is False or out.next_cursor is not None
