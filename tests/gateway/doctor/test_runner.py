"""``labgate doctor``: configuration, secrets, policies, uncovered upstreams, the command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.doctor.codes import CODES
from gateway.doctor.report import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Report
from gateway.doctor.runner import run_doctor
from tests.capabilities.health.fake_kuma import FakeKuma, serve
from tests.support.net import free_port

from .deployment import deployment

HEALTH = (Path(__file__).parents[3] / "policies" / "health.yaml").read_text("utf-8")
SECRET = "s3cr3t-value-never-printed"


def _failed(report: Report) -> set[tuple[str, str]]:
    return {(f.subject, f.code) for f in report.findings() if f.status == "fail"}


async def test_invalid_configuration_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = deployment(tmp_path, {"listen": {"port": "eighty"}})
    report = await run_doctor(path)
    assert report.exit_code() == EXIT_CONFIG
    assert _failed(report) == {("listen.port", "config-invalid")}


async def test_unreadable_and_empty_secret_files_are_named_not_printed(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("  \n")
    (tmp_path / "pg").write_text(SECRET)
    settings = {
        "upstreams": {
            "missing": {
                "base_url": "http://127.0.0.1:1",
                "auth": {"scheme": "bearer", "secret_file": str(tmp_path / "nope")},
            },
            "empty": {
                "base_url": "http://127.0.0.1:1",
                "auth": {"scheme": "bearer", "secret_file": str(tmp_path / "empty")},
            },
        },
        "postgres": {
            "dsn": "postgresql://labgate@127.0.0.1/labgate",
            "password_file": str(tmp_path / "pg"),
        },
    }
    report = await run_doctor(deployment(tmp_path, settings))
    section = next(s for s in report.sections if s.title == "configuration")
    found = {(f.subject, f.status, f.code) for f in section.findings}
    assert ("upstreams.missing.auth.secret_file", "fail", "secret-unreadable") in found
    assert ("upstreams.empty.auth.secret_file", "fail", "secret-unreadable") in found
    assert ("postgres.password_file", "ok", "ok") in found
    assert SECRET not in report.as_text() + report.as_json()
    assert report.exit_code() == EXIT_FAILED


async def test_an_invalid_policy_stops_before_the_upstreams(tmp_path: Path) -> None:
    report = await run_doctor(
        deployment(tmp_path, {}, {"health": "capability: health\nrules: 3\n"})
    )
    assert {code for _, code in _failed(report)} == {"policy-invalid"}
    assert [s.title for s in report.sections] == ["configuration", "policies", "identity"]


async def test_a_capability_without_its_upstream_is_not_configured(tmp_path: Path) -> None:
    report = await run_doctor(deployment(tmp_path, {}, {"health": HEALTH}))
    assert _failed(report) == {("upstream uptime_kuma", "not-configured")}


async def test_upstreams_no_capability_probes_are_checked_for_an_answer(tmp_path: Path) -> None:
    with serve(FakeKuma("2.5.3")) as url:
        settings = {
            "upstreams": {
                "home_assistant": {"base_url": url},
                "frigate": {"base_url": f"http://127.0.0.1:{free_port()}"},
            }
        }
        report = await run_doctor(deployment(tmp_path, settings))
    section = next(s for s in report.sections if s.title == "upstreams")
    found = {(f.subject, f.status, f.code) for f in section.findings}
    assert found == {
        ("upstream home_assistant", "ok", "ok"),
        ("upstream frigate", "fail", "unreachable"),
    }


def test_every_code_a_finding_uses_is_in_the_catalog() -> None:
    sources = [*Path("gateway/doctor").glob("*.py"), *Path("capabilities").glob("*/doctor.py")]
    sources.append(Path("gateway/capability.py"))
    text = "\n".join(p.read_text("utf-8") for p in sources)

    not_codes = {"x-influxdb-version", "x-version", "x-untrusted", "doctor-preview"}
    used = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)"', text)) - not_codes
    assert used <= set(CODES), used - set(CODES)


def test_command_json_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployment(
        tmp_path, {"upstreams": {"x": {"base_url": f"http://127.0.0.1:{free_port()}"}}}
    )
    assert main(["--config", str(path), "doctor", "--json"]) == EXIT_FAILED
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == EXIT_FAILED
    findings = [f for s in doc["sections"] for f in s["findings"]]
    assert {"status": "fail", "subject": "upstream x", "code": "unreachable"}.items() <= next(
        f for f in findings if f["subject"] == "upstream x"
    ).items()


def test_command_preview_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(FakeKuma("2.5.3")) as url:
        (tmp_path / "key").write_text("uk1_fixture-secret")
        settings = {
            "capabilities": {"health": {"status_pages": ["lab"]}},
            "upstreams": {
                "uptime_kuma": {
                    "base_url": url,
                    "auth": {
                        "scheme": "basic",
                        "username": "",
                        "secret_file": str(tmp_path / "key"),
                    },
                }
            },
        }
        path = deployment(tmp_path, settings, {"health": HEALTH})
        code = main(["--config", str(path), "doctor", "--client", "hermes", "--group", "agents"])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "scope preview for client_id=hermes" in out
    assert "hermes-reads-lab-health" in out and "Web OK" in out
    assert "uk1_fixture-secret" not in out


def test_command_rejects_bad_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = deployment(tmp_path, {})
    assert main(["--config", str(path), "doctor", "--claims", "{nope"]) == 2
    assert capsys.readouterr().err == "labgate doctor: --claims must be a JSON object\n"


async def test_sample_data_contacts_no_upstream(tmp_path: Path) -> None:
    settings = {"sample_data": True, "capabilities": {"health": {"status_pages": ["homelab"]}}}
    report = await run_doctor(deployment(tmp_path, settings, {"health": HEALTH}))
    section = next(s for s in report.sections if s.title == "upstreams")
    assert [(f.subject, f.code) for f in section.findings] == [("sample_data", "ok")]
    assert report.exit_code() == EXIT_OK
