"""Hermes Agent (``hermes-agent`` from PyPI, its own virtualenv) driven by tests, no LLM.

:class:`HermesDriver` runs ``tests/support/hermes_driver.py`` in Hermes' virtualenv with a
``HERMES_HOME`` of the test's own: Hermes reads its ``config.yaml`` from there, keeps its OAuth
tokens under it and connects with its own MCP client. :func:`hermes_login` runs the set-up
command ``hermes mcp login <server>`` on a pseudo-terminal, as an operator does once.
:func:`docs_snippet` returns a YAML block of docs/hermes.md, so the tests use what the docs say.

Needs ``tests/support/install_hermes.sh`` to have run (``make test`` does).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.net import stop_process

__all__ = [
    "HERMES_VERSION",
    "HermesDriver",
    "docs_snippet",
    "hermes_login",
    "hermes_venv",
    "write_config",
]

HERMES_VERSION = "0.19.0"
ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("hermes_driver.py")
#: A guard against a hung child, never an assertion on speed.
_HANG_SECONDS = 600.0


def hermes_venv() -> Path:
    """The virtualenv install_hermes.sh made (``LABGATE_HERMES_VENV`` overrides the path)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    default = cache / "labgate" / f"hermes-agent-{HERMES_VERSION}"
    venv = Path(os.environ.get("LABGATE_HERMES_VENV", default))
    if not (venv / "bin" / "hermes").is_file():
        pytest.fail(f"Hermes Agent is missing at {venv}: run tests/support/install_hermes.sh")
    return venv


def docs_snippet(marker: str) -> dict[str, Any]:
    """The first ```yaml block of docs/hermes.md that contains ``marker``, parsed."""
    text = (ROOT / "docs" / "hermes.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        if marker in block:
            value = yaml.safe_load(block)
            assert isinstance(value, dict)
            return value
    raise AssertionError(f"docs/hermes.md has no yaml block with {marker!r}")


def write_config(home: Path, servers: dict[str, Any]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(yaml.safe_dump({"mcp_servers": servers}))


def _env(home: Path, extra: dict[str, str] | None) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"HERMES_HOME": str(home), "HOME": str(home), "NO_COLOR": "1"})
    env.update(extra or {})
    return env


class HermesDriver:
    """One Hermes process, its MCP client connected to the servers of its config.yaml."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        python = hermes_venv() / "bin" / "python"
        self.log_path = home / "driver.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(python), str(DRIVER)],
                cwd=home,
                env=_env(home, env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], _HANG_SECONDS)
        if not ready:
            raise AssertionError(f"Hermes hung on {command}; log:\n{self.log()[-3000:]}")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"Hermes exited on {command}; log:\n{self.log()[-3000:]}")
        answer = json.loads(line)
        assert isinstance(answer, dict)
        return answer

    def discover(self) -> dict[str, Any]:
        return self._ask({"op": "discover"})

    def call(self, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._ask({"op": "call", "tool": tool, "args": args or {}})

    def tools(self) -> list[str]:
        names = self._ask({"op": "tools"})["tools"]
        assert isinstance(names, list)
        return names

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._ask({"op": "quit"})
            except (AssertionError, OSError):
                pass
        stop_process(self.proc, timeout=20)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def hermes_login(
    home: Path,
    server: str,
    complete: Callable[[str], str],
    env: dict[str, str] | None = None,
) -> str:
    """Run ``hermes mcp login <server>`` on a terminal; ``complete(url)`` plays the browser.

    ``complete`` gets the authorization URL Hermes prints and returns the redirect URL the
    identity provider sent the browser to (Hermes' loopback callback), which is then opened.
    Returns everything Hermes printed.
    """
    import httpx

    hermes = hermes_venv() / "bin" / "hermes"
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [str(hermes), "mcp", "login", server],
        cwd=home,
        env=_env(home, {"TERM": "dumb", **(env or {})}),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    url: str | None = None
    deadline = time.monotonic() + _HANG_SECONDS
    try:
        while proc.poll() is None or select.select([controller], [], [], 0)[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"hermes mcp login hung:\n{output.decode(errors='replace')}")
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            found = re.search(rb"(http\S+/auth(?:orize)?\?\S+)", output)
            if url is None and found is not None:
                url = found.group(1).decode()
                callback = complete(url)
                # The callback listener starts once the URL is shown; retry until it listens.
                for _ in range(100):
                    try:
                        httpx.get(callback, timeout=10)
                        break
                    except httpx.ConnectError:
                        time.sleep(0.1)
        proc.wait(timeout=_HANG_SECONDS)
    finally:
        if proc.poll() is None:
            stop_process(proc)
        os.close(controller)
    text = output.decode(errors="replace")
    assert url is not None, f"hermes mcp login printed no authorization URL:\n{text}"
    assert proc.returncode == 0, text
    return text
