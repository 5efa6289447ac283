"""Audit records of rejected authentication, aggregated so that a flood cannot grow the journal
without bound.

Failures are counted per (client address, face, reason) in windows of one second. The first
failure of a window is written at once, as its own record (``count`` 1); the others of that
window are written together, as one record with their ``count``, when the window closes. Every
caller waits until the record that counts it is durable, so a 401 (or 429) never leaves
unrecorded; the wait is at most the window. At most ``max_keys`` keys are tracked in a window;
beyond that, failures are counted under the address ``*``.

    audit = AuthFailureAudit(sink)
    await audit.record("203.0.113.9", "rest", "bad-signature", error_code="unauthenticated")
    await audit.aclose()    # writes what is still counted
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.audit.record import AuditRecord

__all__ = ["OTHER_ADDRESSES", "WINDOW_SECONDS", "AuditWriter", "AuthFailureAudit"]

WINDOW_SECONDS = 1.0
#: The address failures are counted under once ``max_keys`` addresses are tracked.
OTHER_ADDRESSES = "*"
_UNAUTHENTICATED = "unauthenticated"

Key = tuple[str, str, str, str]  # address, face, reason, error code


class AuditWriter(Protocol):
    async def write(self, record: AuditRecord) -> None: ...


@dataclass(slots=True)
class _Window:
    ends: float
    count: int = 0  # failures after the first, not written yet
    written: asyncio.Future[None] | None = None
    task: asyncio.Task[None] | None = None


class AuthFailureAudit:
    def __init__(
        self,
        writer: AuditWriter,
        *,
        window: float = WINDOW_SECONDS,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        self._windows: dict[Key, _Window] = {}

    async def record(self, address: str | None, face: str, reason: str, *, error_code: str) -> None:
        """Count one rejection; return once the record that counts it is durable."""
        now = self._clock()
        key = self._key(address or "unknown", face, reason, error_code, now)
        current = self._windows.get(key)
        if current is None or now >= current.ends:
            self._windows[key] = _Window(ends=now + self._window)
            await self._writer.write(self._record(key, 1))
            return
        current.count += 1
        if current.written is None:
            loop = asyncio.get_running_loop()
            current.written = loop.create_future()
            current.task = loop.create_task(self._close_later(key, current))
        await asyncio.shield(current.written)

    async def aclose(self) -> None:
        """Write every count still pending (at shutdown, before the journal closes)."""
        for key, window in list(self._windows.items()):
            if window.task is not None and not window.task.done():
                window.task.cancel()
                await asyncio.gather(window.task, return_exceptions=True)
                await self._flush(key, window)
        self._windows.clear()

    def _key(self, address: str, face: str, reason: str, code: str, now: float) -> Key:
        key = (address, face, reason, code)
        if key in self._windows or len(self._windows) < self._max_keys:
            return key
        self._windows = {  # forget closed windows with nothing left to write
            k: w for k, w in self._windows.items() if now < w.ends or w.written is not None
        }
        if len(self._windows) < self._max_keys:
            return key
        return (OTHER_ADDRESSES, face, reason, code)

    async def _close_later(self, key: Key, window: _Window) -> None:
        await asyncio.sleep(max(0.0, window.ends - self._clock()))
        await self._flush(key, window)

    async def _flush(self, key: Key, window: _Window) -> None:
        if self._windows.get(key) is window:
            del self._windows[key]
        written = window.written
        if written is None or written.done():
            return
        try:
            await self._writer.write(self._record(key, window.count))
        except Exception as exc:  # the waiting callers fail closed with the writer's error
            written.set_exception(exc)
            written.exception()  # retrieved here: a window nobody awaits any more stays quiet
        else:
            written.set_result(None)

    def _record(self, key: Key, count: int) -> AuditRecord:
        address, face, reason, code = key
        return AuditRecord(
            kind="auth_failure",
            face=face,
            decision="deny",
            reasons=[_UNAUTHENTICATED, reason],
            error_code=code,
            notes={"client_address": address, "count": count, "window_seconds": self._window},
        )
