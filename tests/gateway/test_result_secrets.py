"""An upstream that echoes credentials never gets them to the agent: REST, MCP, cache."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

from capabilities.declarative import EXAMPLES, DeclarativeStore
from capabilities.declarative.sample import SampleReply
from gateway.audit.record import canonical_json
from tests.capabilities.declarative.fake_lab import TOKENS, FakeLab, serve
from tests.capabilities.declarative.support import make_capability_config
from tests.support.faces import faces

HA = TOKENS["homeassistant"].partition(" ")[2]
GITEA = TOKENS["gitea"].partition(" ")[2]


class EchoingLab(FakeLab):
    """Home Assistant behind a debugging proxy: it repeats the credential it received in the
    sensor's state, and (a shared secret store gone wrong) another upstream's token, encoded."""

    def respond(self, method: str, target: str, headers: dict[str, str]) -> SampleReply:
        reply = super().respond(method, target, headers)
        if reply.status != 200 or not target.startswith("/ha/"):
            return reply
        body = json.loads(reply.body)
        body["state"] = headers.get("authorization", "")
        encoded = base64.b64encode(f"token {GITEA}".encode()).decode()
        body["attributes"]["friendly_name"] = f"{quote(HA, safe='')} / {encoded}"
        return SampleReply(200, reply.headers, json.dumps(body).encode())


def _leaks(text: str) -> list[str]:
    forms = [HA, GITEA, base64.b64encode(HA.encode()).decode().rstrip("=")]
    return [form for form in forms if form in text]


async def test_an_echoed_credential_is_redacted_and_audited_on_every_face(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    lab = EchoingLab()
    with serve(lab) as url:
        config = make_capability_config(url, secrets)
        capability = DeclarativeStore(EXAMPLES, set(config["upstreams"])).capability
        async with faces(tmp_path, capability, ["declarative.yaml"], **config) as f:
            token = f.token()
            args = {"entity_id": "sensor.outdoor_temperature"}
            first = await f.rest(token, "declarative_ha_sensor_state", args)
            cached = await f.rest(token, "declarative_ha_sensor_state", args)
            mcp = await f.mcp_call(token, "declarative_ha_sensor_state", args)
            records = f.records()
    assert first.status_code == 200 and cached.status_code == 200
    assert first.json()["result"]["state"] == "Bearer [redacted]"
    name = first.json()["result"]["name"]
    assert name.startswith("[redacted] / ") and name.count("[redacted]") == 2
    assert cached.json()["provenance"]["cached"] is True
    assert mcp.get("isError") is not True
    for answer in (first.text, cached.text, canonical_json(mcp)):
        assert _leaks(answer) == []
    assert "[redacted]" in canonical_json(mcp)
    assert lab.targets() == ["/ha/api/states/sensor.outdoor_temperature"]  # one upstream call
    assert [r["cached"] for r in records] == [False, True, True]
    for record in records:
        assert record["notes"]["secret_redacted"] == ["upstream:gitea", "upstream:homeassistant"]
        assert _leaks(canonical_json(record)) == []


class PaddingLab(FakeLab):
    """Echoes the credential after padding, so the tool's own length limit cuts it short."""

    def respond(self, method: str, target: str, headers: dict[str, str]) -> SampleReply:
        reply = super().respond(method, target, headers)
        if reply.status != 200 or not target.startswith("/ha/"):
            return reply
        body = json.loads(reply.body)
        body["state"] = "x" * 237 + headers.get("authorization", "")  # the field keeps 255
        return SampleReply(200, reply.headers, json.dumps(body).encode())


async def test_a_credential_cut_short_by_the_tools_length_limit_is_redacted(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    with serve(PaddingLab()) as url:
        config = make_capability_config(url, secrets)
        capability = DeclarativeStore(EXAMPLES, set(config["upstreams"])).capability
        async with faces(tmp_path, capability, ["declarative.yaml"], **config) as f:
            args = {"entity_id": "sensor.outdoor_temperature"}
            r = await f.rest(f.token(), "declarative_ha_sensor_state", args)
            (record,) = f.records()
    assert r.status_code == 200
    state = r.json()["result"]["state"]
    assert state == "x" * 237 + "Bearer [redacted]…"
    assert HA[:8] not in r.text
    assert record["notes"]["secret_redacted"] == ["upstream:homeassistant"]
