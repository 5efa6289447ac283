"""Reading a secret from its file (a Docker secret): the one way labgate does it.

Errors name the setting, never the content; the value is stripped and must not be empty.
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import ConfigError

__all__ = ["read_secret_file"]


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
