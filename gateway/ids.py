"""Random identifiers for requests and audit events, from a pooled ``os.urandom``.

Each id is 128 bits read from the operating system's CSPRNG, like ``secrets.token_hex(16)``,
but the bytes are fetched 4 KiB at a time instead of one system call per id (ids are made
several times per call). The pool is dropped in a forked child, so a child never repeats its
parent's ids, and a lock keeps two threads from taking the same slice.
"""

from __future__ import annotations

import os
import threading

__all__ = ["token_hex16"]

_POOL_BYTES = 4096
_lock = threading.Lock()
_pool = b""
_pos = 0


def token_hex16() -> str:
    """128 random bits as 32 lowercase hex digits."""
    global _pool, _pos
    with _lock:
        pos = _pos
        if pos + 16 > len(_pool):
            _pool, pos = os.urandom(_POOL_BYTES), 0
        _pos = pos + 16
        return _pool[pos : pos + 16].hex()


def _forget() -> None:
    global _pool, _pos
    _pool, _pos = b"", 0
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget)
