"""Reading a secret from its file (a Docker secret): the one way labgate does it.

``service_secrets`` lists the secrets of labgate's own services, for the result scrubber.

Errors name the setting, never the content; the value is stripped and must not be empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.settings import Settings

__all__ = ["read_secret_file", "service_secrets"]


def read_secret_file(path: Path, key: str) -> str:
    """The secret in ``path``; ConfigError naming ``key`` when unreadable or empty."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{key}: cannot read secret file ({type(exc).__name__})", key=key
        ) from None
    if not secret:
        raise ConfigError(f"{key}: secret file is empty", key=key)
    return secret


def service_secrets(settings: Settings) -> list[tuple[str, str]]:
    """(setting, value) for every file-held secret of labgate's own services (PostgreSQL, Redis,
    the OIDC HS256 key, the introspection client, the cursor key), for the result scrubber.
    Upstream credentials come from their clients (``Upstreams.secrets``)."""
    files: list[tuple[str, Path]] = []
    if settings.cursor_key_file is not None:
        files.append(("cursor_key_file", settings.cursor_key_file))
    if settings.postgres is not None and settings.postgres.password_file is not None:
        files.append(("postgres.password_file", settings.postgres.password_file))
    if settings.redis is not None and settings.redis.password_file is not None:
        files.append(("redis.password_file", settings.redis.password_file))
    oidc = settings.auth.oidc
    if oidc is not None and oidc.hs256_secret_file is not None:
        files.append(("auth.oidc.hs256_secret_file", oidc.hs256_secret_file))
    if oidc is not None and oidc.introspection is not None:
        key = "auth.oidc.introspection.client_secret_file"
        files.append((key, oidc.introspection.client_secret_file))
    return [(key, read_secret_file(path, key)) for key, path in files]
