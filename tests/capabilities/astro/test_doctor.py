"""``labgate doctor`` against a real InfluxDB 1.x: credentials, database, version, target globs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.doctor.report import EXIT_FAILED, EXIT_OK, Report
from gateway.doctor.runner import run_doctor
from tests.gateway.doctor.deployment import deployment
from tests.support.influxdb import InfluxServer

from .conftest import make_capability_config

POLICY = """\
capability: astro
rules:
  - id: hermes-astro
    who: {clients: [hermes], groups: [agents]}
    tools: [astro_list_sessions, astro_get_session, astro_target_totals]
    scope: {targets: ["M*", "Nothing Like This*"]}
"""


def _settings(tmp_path: Path, influx: InfluxServer, password: str | None = None) -> dict[str, Any]:
    settings = make_capability_config(influx.url)
    secret = tmp_path / "influx_password"
    secret.write_text(password if password is not None else influx.reader[1])
    settings["upstreams"]["influxdb"]["auth"] = {
        "scheme": "basic",
        "username": influx.reader[0],
        "secret_file": str(secret),
    }
    return settings


async def _doctor(tmp_path: Path, settings: dict[str, Any], **kw: Any) -> Report:
    return await run_doctor(deployment(tmp_path, settings, {"astro": POLICY}), **kw)


def _upstream(report: Report) -> list[tuple[str, str, str]]:
    return [
        (f.status, f.subject, f.code)
        for f in report.findings()
        if f.subject.startswith(("upstream", "rule"))
    ]


async def test_reader_reaches_influxdb_and_globs_are_checked(
    tmp_path: Path, seeded_influx: InfluxServer
) -> None:
    claims = {"client_id": "hermes", "groups": ["agents"]}
    report = await _doctor(tmp_path, _settings(tmp_path, seeded_influx), claims=claims)
    found = _upstream(report)
    assert ("ok", "upstream influxdb", "ok") in found
    assert ("ok", "rule hermes-astro: targets", "ok") in found  # M*
    assert ("warn", "rule hermes-astro: targets", "glob-empty") in found
    assert report.exit_code() == EXIT_OK
    assert report.preview is not None
    ((_, rule, admits),) = report.preview.rows
    assert rule == "hermes-astro" and admits is not None
    assert admits["targets"] and all(t.startswith("M") for t in admits["targets"])
    rows = seeded_influx.query('SHOW TAG VALUES FROM "astro_frame" WITH KEY = "target"')
    every = {v[1] for s in rows["results"][0]["series"] for v in s["values"]}
    assert set(admits["targets"]) == {t for t in every if t.startswith("M")}


async def test_a_wrong_password_is_credentials_rejected(
    tmp_path: Path, seeded_influx: InfluxServer
) -> None:
    report = await _doctor(tmp_path, _settings(tmp_path, seeded_influx, "not-the-password"))
    assert [f for f in _upstream(report) if f[0] == "fail"] == [
        ("fail", "upstream influxdb", "credentials-rejected")
    ]
    assert "not-the-password" not in report.as_text() + report.as_json()
    assert "401" in report.as_text()
    assert report.exit_code() == EXIT_FAILED


async def test_a_database_the_reader_may_not_read_is_reported(
    tmp_path: Path, seeded_influx: InfluxServer
) -> None:
    # InfluxDB 1.x with auth answers 403 for a database the user has no grant on (or that
    # does not exist); 401 for a wrong password. The doctor tells them apart.
    settings = _settings(tmp_path, seeded_influx)
    settings["capabilities"]["astro"]["database"] = "no_such_db"
    report = await _doctor(tmp_path, settings)
    failed = [f for f in report.findings() if f.status == "fail"]
    assert [(f.subject, f.code) for f in failed] == [("upstream influxdb", "credentials-rejected")]
    assert "no READ grant on database 'no_such_db'" in failed[0].message


async def test_a_server_that_is_not_influxdb_is_unexpected_version(
    tmp_path: Path, seeded_influx: InfluxServer
) -> None:
    def not_influx(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html"}, text="<html></html>")

    transports = {"influxdb": httpx.MockTransport(not_influx)}
    report = await _doctor(tmp_path, _settings(tmp_path, seeded_influx), transports=transports)
    failed = [(f.subject, f.code) for f in report.findings() if f.status == "fail"]
    assert failed == [("upstream influxdb", "unexpected-version")]


async def test_nina_layout_targets_are_read(tmp_path: Path, seeded_influx: InfluxServer) -> None:
    settings = _settings(tmp_path, seeded_influx)
    settings["capabilities"]["astro"]["layout"] = "nina"
    report = await _doctor(tmp_path, settings, claims={"client_id": "hermes", "groups": ["agents"]})
    assert ("ok", "upstream influxdb", "ok") in _upstream(report)
    assert report.preview is not None
    ((_, _, admits),) = report.preview.rows
    rows = seeded_influx.query('SHOW TAG VALUES WITH KEY = "target_name"')
    every = {v[1] for s in rows["results"][0]["series"] for v in s["values"]}
    assert admits is not None and every and admits["targets"]
    assert set(admits["targets"]) == {t for t in every if t.startswith("M")}
