"""A tiny OpenID Connect issuer served from a thread: discovery and JWKS, nothing else.

The gateway runs in ``auth.mode: oidc`` against it, so every benchmarked call goes through the
production verification path (discovery, remote JWKS, RS256 signature, claim checks). Tokens
are minted here with a key generated for the run, laid out like Authentik's.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

__all__ = ["LocalIssuer"]

ISSUER_PATH = "/application/o/bench/"


class LocalIssuer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``issuer`` is the URL to configure."""

    def __init__(self, audience: str = "labgate") -> None:
        self.audience = audience
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        self.key.ensure_kid()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.issuer = ""
        self.requests = 0

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if self.path == ISSUER_PATH + ".well-known/openid-configuration":
                    body: dict[str, Any] = {
                        "issuer": owner.issuer,
                        "jwks_uri": owner.issuer + "jwks/",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == ISSUER_PATH + "jwks/":
                    public = dict(owner.key.as_dict(private=False))
                    public.update({"kid": owner.key.kid or "", "alg": "RS256", "use": "sig"})
                    body = {"keys": [public]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.issuer = f"http://127.0.0.1:{port}{ISSUER_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-issuer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def mint(
        self,
        sub: str = "hermes-agent",
        *,
        client_id: str = "hermes",
        groups: tuple[str, ...] = ("agents",),
        ttl: int = 4 * 3600,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "azp": client_id,
            "iat": now,
            "exp": now + ttl,
            "uid": uuid.uuid4().hex,
            "groups": list(groups),
            "preferred_username": "hermes-bot",
        }
        header = {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.key, algorithms=["RS256"])
