"""astro over the gateway's guarded upstream client (what production uses).

A chunked ``/query`` answer is one JSON document per line; the guarded transport checks
JSON bodies, so it must read such an answer line by line rather than refuse it.
"""

from __future__ import annotations

from pathlib import Path

from capabilities.astro.client import InfluxQLClient
from capabilities.astro.schemas import AstroConfig
from gateway.upstream.client import build_client
from gateway.upstream.settings import UpstreamSettings
from tests.support.influxdb import InfluxServer


def _settings(server: InfluxServer, secret: Path) -> UpstreamSettings:
    user, password = server.reader
    secret.write_text(password)
    return UpstreamSettings.model_validate(
        {
            "base_url": server.url,
            "auth": {"scheme": "basic", "username": user, "secret_file": str(secret)},
        }
    )


async def test_a_chunked_answer_of_several_documents_passes_the_guarded_client(
    tmp_path: Path, seeded_influx: InfluxServer
) -> None:
    # Tag values of every measurement: influxd streams one JSON document per measurement.
    text = 'SHOW TAG VALUES WITH KEY = "target_name"'
    plain = seeded_influx.query(text)
    measurements = {s["name"] for s in plain["results"][0]["series"]}
    assert len(measurements) > 1, "the seed must give an answer of several documents"
    config = AstroConfig(database=seeded_influx.database, timezone="Europe/Paris")
    async with build_client("influxdb", _settings(seeded_influx, tmp_path / "pw")) as http:
        series, partial = await InfluxQLClient(http, config).run(text, {})
    assert {s["name"] for s in series} == measurements
    assert partial is False
