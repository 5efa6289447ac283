"""docker-compose.replicas.yml: two replicas, Redis, Traefik labels; validated by docker-compose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import load_settings
from tests.deploy.test_compose import _compose, _published
from tests.support.live import ROOT

REPLICAS = ROOT / "docker-compose.replicas.yml"
LABGATES = ("labgate-a", "labgate-b")


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("replicas")
    (tmp / "secrets").mkdir()
    (tmp / "secrets" / "labgate_redis_password").write_text("not-a-real-secret\n")
    (tmp / "secrets" / "labgate_cursor_key").write_text("not-a-real-key\n")
    proc = _compose(tmp, "config", file=REPLICAS, profile="postgres")
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = yaml.safe_load(proc.stdout)
    return config


def test_config_validates_quietly(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "labgate_redis_password").write_text("x\n")
    (tmp_path / "secrets" / "labgate_cursor_key").write_text("x\n")
    proc = _compose(tmp_path, "config", "-q", file=REPLICAS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_each_replica_has_its_own_journal_and_name(resolved: dict[str, Any]) -> None:
    journals, names = set(), set()
    for name in LABGATES:
        svc = resolved["services"][name]
        mounts = {m["target"]: m for m in svc["volumes"]}
        journal = mounts["/var/lib/labgate"]
        assert journal["type"] == "volume" and journal["source"] in resolved["volumes"]
        journals.add(journal["source"])
        names.add(svc["environment"]["LABGATE_REPLICA__ID"])
        # Both watch the same read-only checkout.
        assert mounts["/etc/labgate/policies"]["read_only"] is True
    assert len(journals) == 2 and names == set(LABGATES)


def test_replicas_share_redis_with_a_password_file(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = resolved["services"]["labgate-a"]
    for key, value in svc["environment"].items():
        if key != "LABGATE_CONFIG":
            monkeypatch.setenv(key, str(value))
    settings = load_settings(ROOT / "deploy" / "gateway.example.yaml")
    assert settings.redis is not None
    assert settings.redis.url == "redis://redis:6379/0"
    assert str(settings.redis.password_file) == "/run/secrets/labgate_redis_password"
    assert settings.replica.id == "labgate-a"
    # one cursor key for every replica: a cursor from one opens on the other
    assert str(settings.cursor_key_file) == "/run/secrets/labgate_cursor_key"
    assert "labgate_cursor_key" in {
        s["source"] if isinstance(s, dict) else s for s in svc["secrets"]
    }
    assert settings.replica.expected == list(LABGATES)
    redis = resolved["services"]["redis"]
    assert "ports" not in redis  # reached by the replicas only
    assert "labgate_redis_password" in {
        s["source"] if isinstance(s, dict) else s for s in redis["secrets"]
    }
    assert "not-a-real-secret" not in yaml.safe_dump(resolved["services"])


def test_traefik_balances_the_agent_listener_of_both(resolved: dict[str, Any]) -> None:
    for name in LABGATES:
        svc = resolved["services"][name]
        labels = svc["labels"]
        assert labels["traefik.enable"] == "true"
        assert labels["traefik.http.routers.labgate.service"] == "labgate"
        assert labels["traefik.http.services.labgate.loadbalancer.server.port"] == "8080"
        assert labels["traefik.http.services.labgate.loadbalancer.healthcheck.port"] == "9090"
        assert labels["traefik.http.routers.labgate.rule"].startswith("Host(`")
        # The agent listener is reached through Traefik only; the operator one on loopback.
        ports = _published(svc)
        assert set(ports) == {9090} and ports[9090][0] == "127.0.0.1"
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert resolved["networks"]["proxy"]["external"] is True
