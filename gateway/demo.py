"""``labgate demo``: the whole pipeline with no lab at all.

Sample upstreams, a dev issuer whose key lives in the state directory, the shipped policies and
the local journal as the audit store; binds loopback only. Prints a token, a curl line and an MCP
client configuration, then serves until interrupted.
"""

from __future__ import annotations

import errno
import json
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from gateway.auth.dev import DevIssuer
from gateway.errors import ConfigError
from gateway.settings import Settings, load_settings

__all__ = [
    "DEMO_STATE_DIR",
    "PortBusy",
    "demo_settings",
    "mint_token",
    "run_demo",
    "shipped_policies",
]

#: Where ``labgate demo`` keeps its dev key and journal (``labgate token`` looks here too).
DEMO_STATE_DIR = Path("var/demo")


class PortBusy(Exception):
    """A demo port is taken; the message is the one line the operator sees."""


def shipped_policies() -> Path:
    """``./policies`` when run from a checkout, else the directory beside the package."""
    here = Path("policies")
    if (here / "gateway.yaml").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "policies"


def demo_settings(
    port: int | None, operator_port: int | None, state_dir: Path, *, create: bool = True
) -> Settings:
    """Ports: the flags, else ``LABGATE_LISTEN__PORT`` / ``LABGATE_OPERATOR_LISTEN__PORT``,
    else 8080 / 9090. The hosts are always loopback."""
    if create:
        state_dir.mkdir(parents=True, exist_ok=True)
    listen: dict[str, Any] = {"host": "127.0.0.1"}
    operator: dict[str, Any] = {"host": "127.0.0.1", "port": 9090}
    if port is not None:
        listen["port"] = port
    if operator_port is not None:
        operator["port"] = operator_port
    settings = load_settings(
        None,
        listen=listen,
        operator_listen={"host": "127.0.0.1"},
        auth={"mode": "dev", "dev": {"key_file": str(state_dir / "dev-key.pem")}},
        sample_data=True,
        capabilities={"health": {"status_pages": ["homelab"]}},
        policy_dir=str(shipped_policies()),
        journal_path=str(state_dir / "audit.db"),
    )
    if operator_port is None and "port" not in settings.operator_listen.model_fields_set:
        settings = settings.model_copy(
            update={"operator_listen": settings.operator_listen.model_copy(update=operator)}
        )
    # The dev issuer lives on the agent listener, so an OAuth client can log in to the demo.
    dev = settings.auth.dev.model_copy(update={"issuer": settings.agent_base_url() + "/dev/"})
    auth = settings.auth.model_copy(update={"dev": dev})
    return settings.model_copy(update={"auth": auth})


def mint_token(
    settings: Settings,
    *,
    sub: str,
    client_id: str,
    groups: list[str],
    ttl: int,
    username: str | None = None,
) -> str:
    if settings.auth.mode != "dev" or settings.auth.dev.key_file is None:
        raise ConfigError(
            "tokens can only be minted in dev mode with auth.dev.key_file set",
            key="auth.dev.key_file",
        )
    issuer = DevIssuer.from_settings(settings.auth.dev)
    return issuer.mint(
        sub, client_id=client_id, groups=groups or ["agents"], ttl=ttl, username=username or sub
    )


def labgate_command() -> str:
    """How to call labgate from this shell: ``labgate`` when on PATH, else the script's path."""
    script = Path(sys.argv[0])
    if script.name == "labgate" and shutil.which("labgate") != str(script.resolve()):
        try:
            return str(script.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(script.resolve())
    return "labgate"


def check_ports(settings: Settings) -> None:
    """Bind each listener's address once, before anything is printed; raise PortBusy."""
    for what, listen, flag in (
        ("agent", settings.listen, "--port or LABGATE_LISTEN__PORT"),
        ("operator", settings.operator_listen, "--operator-port or LABGATE_OPERATOR_LISTEN__PORT"),
    ):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                sock.bind((listen.host, listen.port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise PortBusy(
                    f"labgate demo: {listen.host}:{listen.port} ({what} listener) is in use; "
                    f"choose another port with {flag}"
                ) from None


def banner(settings: Settings, token: str) -> str:
    base = settings.agent_base_url()
    ops = f"http://{settings.operator_listen.host}:{settings.operator_listen.port}"
    cmd = labgate_command()
    auth = '-H "Authorization: Bearer $LABGATE_TOKEN"'
    mcp: dict[str, Any] = {
        "mcpServers": {
            "labgate": {"url": f"{base}/mcp", "headers": {"Authorization": "Bearer <token>"}}
        }
    }
    hermes = [
        "mcp_servers:",
        "  labgate:",
        f'    url: "{base}/mcp"',
        "    headers:",
        '      Authorization: "Bearer ${LABGATE_TOKEN}"',
        "    enabled: true",
    ]
    hermes_oauth = [
        "mcp_servers:",
        "  labgate:",
        f'    url: "{base}/mcp"',
        "    auth: oauth",
        "    oauth: {client_id: hermes}",
        "    enabled: true",
    ]
    claims = shlex.quote(json.dumps({"client_id": "hermes", "groups": ["agents"], "sub": "x"}))
    path_hint = (
        []
        if cmd == "labgate"
        else [f"(labgate is not on PATH: run it as {cmd}, or `. .venv/bin/activate` first)", ""]
    )
    return "\n".join(
        [
            "labgate demo: sample data, dev issuer, shipped policies, local journal.",
            f"  agent listener    {base}",
            f"  operator listener {ops}/readyz  {ops}/metrics",
            f"  audit journal     {settings.journal_path}",
            "",
            *path_hint,
            "A token for client hermes, group agents, valid 1 hour "
            f"(renew: export LABGATE_TOKEN=$({cmd} token)):",
            f"  export LABGATE_TOKEN={token}",
            "",
            "Try:",
            f"  curl -s {auth} '{base}/v1/tools?format=openai'",
            f"  curl -s {auth} -H 'Content-Type: application/json' "
            f"-d '{{}}' '{base}/v1/tools/health_summary'",
            "",
            "A denial tells the agent 'not permitted'; an argument outside the policy's bounds",
            "is named with its bound ('argument page_size must be at most 10'). The operator sees",
            f"why in the audit log ({cmd} audit tail --table --journal {settings.journal_path}) "
            "or asks:",
            f"  {cmd} policy explain --claims {claims} "
            '--tool documents_search --args \'{"query": "invoice"}\'',
            "(the shipped documents policy denies every call 01:00-06:00 Europe/Paris).",
            "",
            "Hermes (~/.hermes/config.yaml; LABGATE_TOKEN in ~/.hermes/.env):",
            *hermes,
            "",
            "Hermes logging in by itself (OAuth against the dev issuer of the demo; then run",
            "`hermes mcp login labgate` once and sign in on the page it prints):",
            *hermes_oauth,
            "",
            "Other MCP clients (the token in place of <token>):",
            json.dumps(mcp, indent=2),
            "",
        ]
    )


def run_demo(port: int | None, operator_port: int | None, state_dir: Path) -> int:
    from gateway.serve import run

    settings = demo_settings(port, operator_port, state_dir)
    try:
        check_ports(settings)
    except PortBusy as exc:
        print(exc, file=sys.stderr)
        return 2
    token = mint_token(
        settings, sub="hermes-agent", client_id="hermes", groups=["agents"], ttl=3600
    )
    print(banner(settings, token), flush=True)
    return run(settings)
