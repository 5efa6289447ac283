"""Hostile arguments never change the host or leave the path prefix.

A tool whose operator pattern admits almost anything is the worst case: the second fence
(``request.unsafe_segment`` + ``quote(value, safe="")``) and the guarded client must still
keep every request on the upstream's host and under its path prefix. Assertions are on the
requests the real loopback server received.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from capabilities.declarative import EXAMPLES, DeclarativeStore
from gateway.errors import InvalidArguments, UpstreamError
from gateway.upstream import UpstreamSettings, build_client

from .fake_lab import TOKENS, FakeLab
from .support import call, make_ctx

HOSTILE = [
    "..",
    ".",
    "../",
    "../../etc/passwd",
    "a/../../b",
    "%2e%2e",
    "%2e%2e%2f",
    "%252e%252e",
    ".%2e",
    "//evil.example",
    "@evil.example",
    "evil.example:80@x",
    "http://evil.example/",
    "a\r\nHost: evil.example",
    "x\nSet-Cookie: a",
    "\uff0e\uff0e",
    "‥",
    "..\\..\\",
    "?admin=1",
    "#frag",
    "a?b",
    " .. ",
    "\u202e..",
    "%00",
    "x" * 199,
]

LOOSE_TOOL = """
name: declarative_loose
title: Loose
description: A tool whose pattern admits nearly anything.
upstream: gitea
request: {path: "/api/v1/orgs/{org}/repos"}
args:
  org: {type: string, in: path, pattern: '^.{1,200}$', max_length: 200, description: Org.}
response: {shape: list, projection: "[].{name: name}", statuses: {404: not_found}}
fields: {name: {type: string}}
"""


@pytest.fixture
def loose(tmp_path: Path) -> DeclarativeStore:
    (tmp_path / "loose.yaml").write_text(LOOSE_TOOL)
    return DeclarativeStore(tmp_path, None)


def _check_seen(fake: FakeLab, lab_url: str) -> None:
    host = lab_url.removeprefix("http://")
    for seen in fake.seen:
        assert seen.host == host
        path = seen.target.partition("?")[0]
        assert path.startswith("/gitea/api/v1/orgs/"), seen.target
        assert path.endswith("/repos") and path.count("/") == 6, seen.target
        assert "/../" not in path and "%2f" not in path.lower().replace("%252f", "")


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_path_values_over_a_plain_client(
    loose: DeclarativeStore,
    clients: dict[str, httpx.AsyncClient],
    fake: FakeLab,
    lab_url: str,
    value: str,
) -> None:
    try:
        await call(loose, "declarative_loose", {"org": value}, make_ctx(clients))
    except (InvalidArguments, UpstreamError, ValidationError):
        pass
    except Exception as exc:  # NotFound is fine too: the request stayed in its segment
        assert type(exc).__name__ == "NotFound"
    _check_seen(fake, lab_url)


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_path_values_through_the_guarded_client(
    loose: DeclarativeStore, fake: FakeLab, lab_url: str, tmp_path: Path, value: str
) -> None:
    secret = tmp_path / "gitea.secret"
    secret.write_text(TOKENS["gitea"].partition(" ")[2])
    settings = UpstreamSettings.model_validate(
        {"base_url": lab_url + "/gitea", "auth": {"scheme": "token", "secret_file": str(secret)}}
    )
    guarded = build_client("gitea", settings)
    try:
        try:
            await call(loose, "declarative_loose", {"org": value}, make_ctx({"gitea": guarded}))
        except (InvalidArguments, UpstreamError, ValidationError):
            pass
        except Exception as exc:
            assert type(exc).__name__ == "NotFound"
    finally:
        await guarded.aclose()
    _check_seen(fake, lab_url)


async def test_a_plain_value_still_works_through_the_guarded_client(
    loose: DeclarativeStore, fake: FakeLab, lab_url: str, tmp_path: Path
) -> None:
    secret = tmp_path / "gitea.secret"
    secret.write_text(TOKENS["gitea"].partition(" ")[2])
    settings = UpstreamSettings.model_validate(
        {"base_url": lab_url + "/gitea", "auth": {"scheme": "token", "secret_file": str(secret)}}
    )
    guarded = build_client("gitea", settings)
    try:
        out = await call(
            loose, "declarative_loose", {"org": "homelab"}, make_ctx({"gitea": guarded})
        )
    finally:
        await guarded.aclose()
    assert len(out["items"]) == 4
    assert fake.targets() == ["/gitea/api/v1/orgs/homelab/repos"]


@pytest.mark.parametrize("value", ["..", "a/b", "x.y:z", "%2e%2e", "\uff0e\uff0e", "a\tb"])
async def test_unsafe_values_are_invalid_arguments_and_never_sent(
    loose: DeclarativeStore, clients: dict[str, httpx.AsyncClient], fake: FakeLab, value: str
) -> None:
    if value == "x.y:z":  # harmless: escaped into one segment and sent
        with pytest.raises(Exception) as info:
            await call(loose, "declarative_loose", {"org": value}, make_ctx(clients))
        assert type(info.value).__name__ == "NotFound"
        assert fake.targets()[-1] == "/gitea/api/v1/orgs/x.y%3Az/repos"
        return
    with pytest.raises(InvalidArguments) as raised:
        await call(loose, "declarative_loose", {"org": value}, make_ctx(clients))
    assert value not in raised.value.detail
    assert fake.targets() == []


@pytest.mark.parametrize("value", [*HOSTILE, "sensor.x" * 20])
def test_shipped_patterns_refuse_hostile_values(value: str) -> None:
    store = DeclarativeStore(EXAMPLES, None)
    for name, arg in (
        ("declarative_ha_sensor_state", "entity_id"),
        ("declarative_proxmox_node_status", "node"),
        ("declarative_gitea_org_repos", "org"),
    ):
        found = store.capability.tool(name)
        assert found is not None
        with pytest.raises(ValidationError):
            found.args_model.model_validate({arg: value})


def test_pattern_dollar_does_not_admit_a_trailing_newline() -> None:
    store = DeclarativeStore(EXAMPLES, None)
    found = store.capability.tool("declarative_ha_sensor_state")
    assert found is not None
    with pytest.raises(ValidationError):
        found.args_model.model_validate({"entity_id": "sensor.outdoor_temperature\n"})
    assert found.args_model.model_validate({"entity_id": "sensor.outdoor_temperature"})
