"""astro through every face of the full app, under the shipped policy, on the real InfluxDB."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from capabilities.astro import CAPABILITY
from capabilities.astro.ids import encode_session_id
from tests.support.faces import faces, stable
from tests.support.influxdb import InfluxServer

from .conftest import make_capability_config

TOOLS = {"astro_list_sessions", "astro_get_session", "astro_target_totals"}


async def test_every_face_under_policy(tmp_path: Path, seeded_influx: InfluxServer) -> None:
    config = make_capability_config(seeded_influx.url)
    user, password = seeded_influx.reader
    secret = tmp_path / "influx-password"
    secret.write_text(password)
    config["upstreams"]["influxdb"]["auth"] = {
        "scheme": "basic",
        "username": user,
        "secret_file": str(secret),
    }
    async with faces(tmp_path, CAPABILITY, ["astro.yaml"], **config) as f:
        hermes = f.token()
        assert await f.rest_list(hermes) == TOOLS == await f.mcp_list(hermes)

        args = {"start": "2024-09-01", "end": "2024-11-28"}  # within the seeded nights
        r = await f.rest(hermes, "astro_list_sessions", args)
        assert r.status_code == 200, r.text
        rest = r.json()
        assert rest["result"]["items"], "the seeded window holds sessions"
        mcp = await f.mcp_call(hermes, "astro_list_sessions", args)
        assert mcp.get("isError") is not True, mcp
        assert stable(mcp["structuredContent"])["result"] == stable(rest)["result"]

        totals = await f.rest(hermes, "astro_target_totals", {})
        assert totals.status_code == 200, totals.text

        # A hostile target name is data: the seeded target of that exact name, nothing else.
        name = 'M31" OR 1=1'
        hostile = await f.rest(hermes, "astro_list_sessions", {**args, "target": name})
        assert hostile.status_code == 200, hostile.text
        items = hostile.json()["result"]["items"]
        assert items and {item["target"] for item in items} == {name}

        # A session id naming a night InfluxDB cannot hold is the caller's error (was 500/502).
        for night in (date(9999, 12, 31), date(1, 1, 1)):
            sid = encode_session_id(night, "M31")
            r = await f.rest(hermes, "astro_get_session", {"session_id": sid})
            assert r.status_code == 422, r.text
            mcp = await f.mcp_call(hermes, "astro_get_session", {"session_id": sid})
            assert mcp["isError"] is True and "invalid_arguments" in str(mcp["content"])

        other = f.token("other-agent", ["others"])
        assert await f.rest_list(other) == set()
        assert (await f.mcp_call(other, "astro_target_totals", {}))["isError"] is True
