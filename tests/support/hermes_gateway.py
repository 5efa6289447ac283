"""A labgate for the Hermes tests: uvicorn in a process of its own, the test capability,
the fixture policies plus rules for ``other-agent`` and a rate limit, and the ``gateway.yaml``
snippet of docs/hermes.md (``auth.oidc`` and ``mcp``) on top of the test's issuer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from gateway.app import create_app
from gateway.registry import Registry
from gateway.settings import load_settings
from tests.support import testcap
from tests.support.hermes import docs_snippet
from tests.support.net import free_port
from tests.support.oidc import OidcProvider

__all__ = ["DOCS_URL", "REPO", "Gateway", "handed", "serve", "start_gateway"]

FIXTURE_POLICIES = Path(__file__).resolve().parents[1] / "fixtures" / "policies"
REPO = Path(__file__).resolve().parents[2]
#: The labgate URL in docs/hermes.md's snippets.
DOCS_URL = "https://labgate.lab.example/mcp"


@dataclass
class Gateway:
    base: str
    log: Path

    @property
    def url(self) -> str:
        return self.base + "/mcp"


def serve(config_file: str) -> None:
    """Entry of the gateway process: settings from a JSON file, uvicorn on the given port."""
    spec = json.loads(Path(config_file).read_text())
    settings = load_settings(None, **spec)
    app = create_app(settings, registry=Registry([testcap.CAPABILITY]))
    uvicorn.run(app, host="127.0.0.1", port=settings.listen.port, log_level="warning", ws="none")


def _policies(tmp: Path) -> Path:
    policies = tmp / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    doc = yaml.safe_load((policies / "testcap.yaml").read_text())
    for rule in doc["rules"]:
        if rule["id"] == "hermes-list":
            rule["limits"] = {"rate": "3/hour", "burst": 3}
    doc["rules"] += [
        {
            "id": "other-agent-echo",
            "who": {"clients": ["other-agent"]},
            "tools": ["testcap_echo"],
            "args": {"count": {"max": 5}},
        },
        {
            "id": "other-agent-list",
            "who": {"clients": ["other-agent"]},
            "tools": ["testcap_list"],
            "scope": {"allowed_prefixes": ["a"]},
            "result": {"fields": ["id", "title", "body"], "truncate": {"body": 100}},
        },
    ]
    (policies / "testcap.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return policies


def start_gateway(
    tmp: Path, oidc: OidcProvider, **extra: Any
) -> tuple[subprocess.Popen[bytes], Gateway]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    spec = {
        "public_url": base,
        "listen": {"host": "127.0.0.1", "port": port},
        "auth": {
            "mode": "oidc",
            "oidc": {"issuer": oidc.issuer, "audience": [oidc.audience]},
        },
        "policy_dir": str(_policies(tmp)),
        "journal_path": str(tmp / "audit.db"),
        "capabilities": {"testcap": {}},
        "watch_policies": False,
        "mcp": docs_snippet("client_profiles")["mcp"],
        **extra,
    }
    spec["auth"]["oidc"].update(docs_snippet("client_profiles")["auth"]["oidc"])
    (tmp / "gateway.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABGATE_")}
    code = f"from {__name__} import serve; serve({str(tmp / 'gateway.json')!r})"
    with (tmp / "gateway.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=env, stdout=log, stderr=log
        )
    while True:  # until it answers or exits: no deadline on a loaded machine
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited: {(tmp / 'gateway.log').read_text()}")
        try:
            if httpx.get(base + "/.well-known/oauth-protected-resource", timeout=1).is_success:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return process, Gateway(base=base, log=tmp / "gateway.log")


def handed(answer: dict[str, Any]) -> dict[str, Any]:
    """What Hermes hands the model for one call, parsed (it is always a JSON object)."""
    value = json.loads(answer["text"])
    assert isinstance(value, dict)
    return value
