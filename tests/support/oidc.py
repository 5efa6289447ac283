"""A real OIDC provider process (node ``oidc-provider``) laid out like Authentik, for tests.

Fixture ``oidc_provider`` (session scope) starts ``tests/support/oidc/server.mjs`` on a free
loopback port with the issuer ``http://127.0.0.1:<port>/application/o/hermes/`` and two
client_credentials clients, ``hermes`` and ``other-agent``. Access tokens are RS256 JWTs for
the audience ``labgate`` (resource ``urn:labgate``), or ``other-api`` (resource ``urn:other``).

The test owns the signing keys: ``provider.signing_key`` is the current private key (to forge
tokens signed by the real key), ``provider.rotate()`` replaces it (Authentik-style, no overlap)
and returns the key rotated away. ``provider.stats()`` counts JWKS and discovery requests;
``provider.set_jwks_cache_control()`` makes JWKS answers carry a ``Cache-Control`` header.

``hermes`` is also an OAuth login client (authorization code + PKCE, loopback redirect on any
port, refresh tokens with ``offline_access``); the login page accepts the users of
:data:`USERS`. :func:`start_oidc_provider` starts another instance, e.g. with short-lived
tokens; :meth:`OidcProvider.complete_login` fills its login page as a browser would.

Needs ``tests/support/install_oidc.sh`` to have run (``make test`` does).
"""

from __future__ import annotations

import json
import re
import selectors
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.support.net import stop_process

__all__ = [
    "CLIENTS",
    "USERS",
    "OidcProvider",
    "new_signing_key",
    "oidc_provider",
    "start_oidc_provider",
]

HERE = Path(__file__).parent / "oidc"
ISSUER_PATH = "/application/o/hermes/"
AUDIENCE = "labgate"
OTHER_AUDIENCE = "other-api"
CLIENTS: dict[str, dict[str, Any]] = {
    "hermes": {
        "secret": "hermes-test-secret",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "claims": {
            "groups": ["agents", "readers"],
            "preferred_username": "hermes-bot",
            "entitlements": ["astro-read"],
        },
    },
    "other-agent": {
        "secret": "other-agent-test-secret",
        "claims": {"groups": ["others"], "preferred_username": "other-bot"},
    },
}
#: Who may sign in on the login page (username: password).
USERS = {"operator": "operator-test-password"}
#: Any resource indicator on the loopback (a labgate under test) gets this audience.
RESOURCE_PREFIXES = {"http://127.0.0.1:": AUDIENCE}
_START_SECONDS = 20.0


def new_signing_key() -> RSAKey:
    kid = "k-" + uuid.uuid4().hex[:12]
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class OidcProvider:
    origin: str
    issuer: str
    signing_key: RSAKey
    audience: str = AUDIENCE
    other_audience: str = OTHER_AUDIENCE
    retired_keys: list[RSAKey] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return self.issuer + "jwks"

    def token(
        self, client_id: str = "hermes", *, resource: str | None = None, scope: str | None = None
    ) -> str:
        """A real access token fetched over HTTP with the client_credentials grant."""
        data = {"grant_type": "client_credentials"}
        if resource is not None:
            data["resource"] = resource
        if scope is not None:
            data["scope"] = scope
        response = httpx.post(
            self.issuer + "token",
            data=data,
            auth=(client_id, CLIENTS[client_id]["secret"]),
            timeout=10,
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token

    def complete_login(
        self, authorization_url: str, username: str = "operator", password: str | None = None
    ) -> str:
        """Open ``authorization_url``, sign in on the login page; return the redirect URL.

        The redirect (the client's callback with ``code`` and ``state``) is not followed.
        """
        password = USERS[username] if password is None else password
        with httpx.Client(timeout=10) as browser:
            response = browser.get(authorization_url)
            for _ in range(10):  # login page, consent page, each behind redirects
                while response.is_redirect and response.headers["location"].startswith(
                    (self.origin, "/")
                ):
                    response = browser.get(response.next_request.url)  # type: ignore[union-attr]
                if response.is_redirect:
                    return response.headers["location"]
                form = re.search(r'<form method="post" action="([^"]+)"', response.text)
                assert form is not None, f"no form: {response.status_code} {response.text[:200]}"
                fields = {"username": username, "password": password}
                response = browser.post(self.origin + form.group(1), data=fields)
            raise AssertionError("the login did not end in a redirect to the client")

    def rotate(self) -> RSAKey:
        """Publish a new signing key in place of the current one; returns the retired key."""
        old, new = self.signing_key, new_signing_key()
        self._admin("POST", "/admin/jwks", {"keys": [dict(new.as_dict(private=True))]})
        self.signing_key = new
        self.retired_keys.append(old)
        return old

    def stats(self) -> dict[str, int]:
        """Requests served: ``jwks``, ``discovery``; grants: ``refresh``, ``code``; ``login``."""
        return {k: int(v) for k, v in self._admin("GET", "/admin/stats").items()}

    def reset_stats(self) -> None:
        self._admin("POST", "/admin/stats/reset")

    def set_jwks_cache_control(self, value: str | None) -> None:
        """Send ``Cache-Control: value`` on JWKS answers from now on (None: no header)."""
        self._admin("POST", "/admin/jwks-cache-control", {"value": value})

    def _admin(self, method: str, path: str, body: object | None = None) -> dict[str, Any]:
        response = httpx.request(method, self.origin + path, json=body, timeout=10)
        response.raise_for_status()
        result = response.json()
        assert isinstance(result, dict)
        return result


def _wait_ready(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout=_START_SECONDS):
            raise RuntimeError("the OIDC provider did not start in time")
        line = process.stdout.readline().decode().strip()
    finally:
        selector.close()
    if not line.startswith("READY "):
        raise RuntimeError(f"the OIDC provider did not start: {line!r}")
    return int(line.split()[1])


@contextmanager
def start_oidc_provider(workdir: Path, *, access_token_ttl: int = 600) -> Iterator[OidcProvider]:
    """Run one provider process in ``workdir`` until the context closes."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node or oidc-provider is missing: run tests/support/install_oidc.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    key = new_signing_key()
    config = {
        "issuer_path": ISSUER_PATH,
        "keys": [dict(key.as_dict(private=True))],
        "clients": [
            {
                "client_id": cid,
                "client_secret": c["secret"],
                "claims": c["claims"],
                **({"redirect_uris": c["redirect_uris"]} if "redirect_uris" in c else {}),
            }
            for cid, c in CLIENTS.items()
        ],
        "resources": {"urn:labgate": AUDIENCE, "urn:other": OTHER_AUDIENCE},
        "resource_prefixes": RESOURCE_PREFIXES,
        "users": USERS,
        "access_token_ttl": access_token_ttl,
    }
    config_file = workdir / "config.json"
    config_file.write_text(json.dumps(config))
    config_file.chmod(0o600)
    with (workdir / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [node, str(HERE / "server.mjs"), str(config_file)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        port = _wait_ready(process)
        origin = f"http://127.0.0.1:{port}"
        yield OidcProvider(origin=origin, issuer=origin + ISSUER_PATH, signing_key=key)
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with start_oidc_provider(tmp_path_factory.mktemp("oidc")) as provider:
        yield provider
