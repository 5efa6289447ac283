"""The gateway under test: its policy directory, its configuration, a fresh PostgreSQL database.

Production mode: ``auth.mode: oidc`` against :class:`bench.issuer.LocalIssuer`, the shipped
policies (``policies/*.yaml``) plus ``bench.yaml``, the SQLite journal with its default
durability, and the PostgreSQL shipper on. One change to the shipped ``gateway.yaml``: its
per-principal limit (600/hour) is raised, or a load test would measure 429 answers.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from bench.procs import ROOT
from gateway.registry import load_registry

__all__ = [
    "ADMIN_DSN",
    "BENCH_POLICY",
    "create_database",
    "drop_database",
    "gateway_config",
    "upstream_names",
    "write_policy_dir",
]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
UNLIMITED = {"rate": "1000000/second", "burst": 1_000_000}

BENCH_POLICY = {
    "capability": "bench",
    "rules": [
        {
            "id": "hermes-bench-cached",
            "who": {"clients": ["hermes"], "groups": ["agents"]},
            "tools": ["bench_lookup"],
            "args": {"delay_ms": {"max": 1000}, "key": {"max_length": 40}},
            "limits": UNLIMITED,
            "cache": {"ttl_seconds": 600},
        },
        {
            "id": "hermes-bench-direct",
            "who": {"clients": ["hermes"], "groups": ["agents"]},
            "tools": ["bench_fetch"],
            "args": {"delay_ms": {"max": 1000}, "key": {"max_length": 40}},
            "limits": UNLIMITED,
        },
    ],
}


def write_policy_dir(dest: Path, shipped: Path = ROOT / "policies") -> Path:
    """Copy the shipped policies to ``dest``, raise the global limit, add ``bench.yaml``.

    ``documents.yaml`` keeps its rules but with limits raised and without its time-of-day
    deny rule (``when``), or the documents figure would measure 429s, or denials at night.
    A shipped policy of a capability that this build does not register is left out (the
    gateway would refuse the whole set).
    """
    dest.mkdir(parents=True, exist_ok=True)
    registered = set(load_registry())
    for path in sorted(shipped.glob("*.yaml")):
        stem = path.name.removesuffix(".yaml")
        if path.name.endswith(".cases.yaml") or (stem != "gateway" and stem not in registered):
            continue
        text = path.read_text()
        if path.name == "gateway.yaml":
            data = yaml.safe_load(text) or {}
            data["limits"] = UNLIMITED
            text = yaml.safe_dump(data, sort_keys=False)
        elif path.name == "documents.yaml":
            data = yaml.safe_load(text) or {}
            rules = [r for r in data.get("rules", []) if "when" not in r]
            for rule in rules:
                if "limits" in rule:
                    rule["limits"] = UNLIMITED
            data["rules"] = rules
            text = yaml.safe_dump(data, sort_keys=False)
        (dest / path.name).write_text(text)
    (dest / "bench.yaml").write_text(yaml.safe_dump(BENCH_POLICY, sort_keys=False))
    return dest


def upstream_names() -> list[str]:
    """The stub's name, the built-in capabilities' default upstreams, and every ``upstream``
    named by a shipped declarative tool file."""
    names = {"benchstub", "influxdb", "uptime_kuma", "paperless"}
    for path in sorted((ROOT / "capabilities").glob("*/examples/*.yaml")):
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("upstream"), str):
            names.add(data["upstream"])
    return sorted(names)


def gateway_config(
    tmp: Path,
    *,
    issuer: str,
    stub_url: str,
    dsn: str,
    port: int,
    ops_port: int,
    paperless_url: str | None = None,
    paperless_token: str = "",
) -> dict[str, Any]:
    """The gateway's settings. With ``paperless_url`` the documents capability reaches that
    (fake) paperless-ngx with ``paperless_token``; without it every upstream is the stub."""

    def upstream(name: str) -> dict[str, Any]:
        # As in production every upstream has its own credential, so every result passes the
        # secret scan (gateway/scrub.py) with a realistic secret set.
        secret = tmp / f"{name}.secret"
        secret.write_text(secrets.token_urlsafe(32))
        return {
            "base_url": stub_url,
            "connect_timeout": 2,
            "read_timeout": 5,
            "auth": {"scheme": "bearer", "secret_file": str(secret)},
        }

    upstreams = {name: upstream(name) for name in upstream_names()}
    if paperless_url is not None:
        token = tmp / "paperless.secret"
        token.write_text(paperless_token)
        upstreams["paperless"] = {
            "base_url": paperless_url,
            "connect_timeout": 2,
            "read_timeout": 5,
            "auth": {"scheme": "token", "secret_file": str(token)},
        }
    return {
        "listen": {"host": "127.0.0.1", "port": port},
        "operator_listen": {"host": "127.0.0.1", "port": ops_port},
        "policy_dir": str(write_policy_dir(tmp / "policies")),
        "journal_path": str(tmp / "audit.db"),
        "postgres": {"dsn": dsn},
        "auth": {
            "mode": "oidc",
            "oidc": {
                "issuer": issuer,
                "audience": ["labgate"],
                "allowed_clients": ["hermes"],
                "algorithms": ["RS256"],
            },
        },
        # The shipped policies turn the built-in capabilities on: their upstreams must exist.
        # They point at the stub and are never called by the bench.
        "upstreams": upstreams,
        "extra_capabilities": ["bench.benchcap:CAPABILITY"],
        "capabilities": {"bench": {"upstream": "benchstub"}}
        | ({"documents": {"upstream": "paperless"}} if paperless_url else {}),
        "log_level": "info",
    }


async def create_database() -> str:
    """A new, uniquely named database; returns its DSN."""
    name = f"labgate_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


async def drop_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
