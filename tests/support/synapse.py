"""A real Matrix homeserver (Synapse from PyPI) for tests: loopback, free port, SQLite.

Fixture (register this module with ``pytest_plugins``):

* ``synapse_server`` (session): one running Synapse, started once per test session (start-up
  takes seconds), in a temporary directory, with open rate limits. Users are made with the
  registration shared secret (:meth:`Synapse.register`); :class:`MatrixUser` speaks the
  client-server API for a test's humans (create rooms, react, reply, edit).
  Skipped, with the reason, when Synapse is not installed
  (``tests/support/install_synapse.sh`` installs it in its own virtual environment).

The server is the one process this module starts; it is stopped at the end of the session.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from tests.support.net import free_port, stop_process

__all__ = ["MatrixUser", "Synapse", "synapse_server"]

VENV = Path(__file__).resolve().parent / "synapse" / ".venv"
PYTHON = VENV / "bin" / "python"
SERVER_NAME = "localhost"
SHARED_SECRET = "labgate-tests-registration-secret"
_OPEN = {"per_second": 10_000, "burst_count": 10_000}


@dataclass
class MatrixUser:
    """A Matrix account as a human would use it (through its own client)."""

    url: str
    user_id: str
    access_token: str
    _txn: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        r = httpx.request(
            method, f"{self.url}/_matrix/client/v3{path}", json=body, params=params,
            headers=headers, timeout=30,
        )  # fmt: skip
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        result: dict[str, Any] = r.json()
        return result

    def create_room(self, invite: tuple[str, ...] = (), encrypted: bool = False) -> str:
        body: dict[str, Any] = {"preset": "private_chat", "invite": list(invite)}
        if encrypted:
            body["initial_state"] = [
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ]
        return str(self._call("POST", "/createRoom", body)["room_id"])

    def join(self, room_id: str) -> None:
        self._call("POST", f"/join/{quote(room_id, safe='')}", {})

    def send(self, room_id: str, kind: str, content: dict[str, Any]) -> str:
        txn = f"t{time.time_ns()}-{next(self._txn)}"
        path = f"/rooms/{quote(room_id, safe='')}/send/{kind}/{txn}"
        return str(self._call("PUT", path, content)["event_id"])

    def react(self, room_id: str, event_id: str, key: str) -> str:
        relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return self.send(room_id, "m.reaction", {"m.relates_to": relates})

    def say(self, room_id: str, body: str, reply_to: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return self.send(room_id, "m.room.message", content)

    def edit(self, room_id: str, event_id: str, body: str) -> str:
        content = {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        return self.send(room_id, "m.room.message", content)

    def messages(self, room_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The room's latest events, newest first."""
        path = f"/rooms/{quote(room_id, safe='')}/messages"
        chunk: list[dict[str, Any]] = self._call("GET", path, dir="b", limit=limit)["chunk"]
        return chunk


@dataclass
class Synapse:
    url: str
    root: Path

    def register(self, localpart: str, admin: bool = False) -> MatrixUser:
        """A new account, made with the registration shared secret (Synapse's admin API)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=30).json()["nonce"]
        password = f"pw-{localpart}"
        digest = hmac.new(
            SHARED_SECRET.encode(),
            b"\x00".join(
                p.encode() for p in (nonce, localpart, password, "admin" if admin else "notadmin")
            ),
            hashlib.sha1,
        ).hexdigest()
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": digest,
        }
        r = httpx.post(endpoint, json=body, timeout=30)
        assert r.status_code == 200, r.text
        data = r.json()
        return MatrixUser(self.url, data["user_id"], data["access_token"])


def _config(root: Path, port: int) -> Path:
    subprocess.run(
        [
            str(PYTHON), "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
            "--config-path", str(root / "homeserver.yaml"), "--data-directory", str(root),
            "--generate-config", "--report-stats=no",
        ],
        check=True, cwd=root, capture_output=True,
    )  # fmt: skip
    path = root / "homeserver.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(
        {
            "listeners": [
                {
                    "port": port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}},
            "registration_shared_secret": SHARED_SECRET,
            "enable_registration": False,
            "suppress_key_server_warning": True,
            "trusted_key_servers": [],
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
            **{
                name: _OPEN
                for name in (
                    "rc_message",
                    "rc_registration",
                    "rc_joins_per_room",
                    "rc_3pid_validation",
                    "rc_invites",
                    "rc_admin_redaction",
                )
            },
            "rc_login": {"address": _OPEN, "account": _OPEN, "failed_attempts": _OPEN},
            "rc_joins": {"local": _OPEN, "remote": _OPEN},
        }
    )
    config.pop("log_config", None)
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    while True:  # start-up takes seconds; a crashed server ends the wait with its log
        if proc.poll() is not None:
            raise RuntimeError(f"synapse exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/_matrix/client/versions", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)


@pytest.fixture(scope="session")
def synapse_server() -> Iterator[Synapse]:
    if not PYTHON.is_file():
        pytest.skip("Synapse is not installed: run tests/support/install_synapse.sh")
    with tempfile.TemporaryDirectory(prefix="labgate-synapse-") as tmp:
        root = Path(tmp)
        port = free_port()
        config = _config(root, port)
        log = root / "synapse.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # the one process this fixture owns
                [str(PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)],
                cwd=root, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_ready(url, proc, log)
                yield Synapse(url, root)
            finally:
                stop_process(proc)
