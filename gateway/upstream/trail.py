"""What the upstreams answered during one call, for its audit record.

The pipeline opens a :class:`Trail` around a call; the guarded transport notes each upstream
status on it. The trail travels in a context variable, so tasks started for the call (the
tool's deadline, a shared cache run) note on the same trail. Outside a call nothing is noted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Trail", "follow", "note_status"]


@dataclass(slots=True)
class Trail:
    #: The last upstream HTTP status of the call (None: no upstream answered).
    status: int | None = None


_CURRENT: ContextVar[Trail | None] = ContextVar("labgate_upstream_trail", default=None)


@contextmanager
def follow() -> Iterator[Trail]:
    """A fresh trail for the code inside the block (and the tasks it starts)."""
    trail = Trail()
    token = _CURRENT.set(trail)
    try:
        yield trail
    finally:
        _CURRENT.reset(token)


def note_status(status: int) -> None:
    trail = _CURRENT.get()
    if trail is not None:
        trail.status = status
