"""The shadow policy set: ``<policy_dir>/shadow/``, decided beside the live set, never enforced.

When the directory exists and loads, every call is decided by the live set (which is
enforced) and by the shadow set with the same evaluator, request and time; a disagreement
(see :mod:`gateway.policy.outcome`) goes into the call's audit record (``notes.shadow``) and
the ``labgate_shadow_disagreements_total`` metric. Without the directory the pipeline checks
one attribute per decision and nothing more.

The shadow directory is a complete policy directory (its own ``gateway.yaml``). It is loaded
all or nothing, like the live set: an invalid shadow set keeps the last good shadow set (or
none), is logged and reported to ``on_reload``; it never touches the live set, whose store
knows nothing of it. It reloads whenever the live set reloads (file change, SIGHUP) and when a
file below ``shadow/`` changes (its own watcher: the live watcher does not look into
subdirectories).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import watchfiles

from gateway.capability import Capability
from gateway.errors import PolicyError
from gateway.policy.loader import load_policy_dir
from gateway.policy.policyset import PolicySet
from gateway.policy.store import DEBOUNCE_MS, STEP_MS, ReloadEvent

__all__ = ["SHADOW_DIR", "ShadowStore"]

log = logging.getLogger(__name__)

SHADOW_DIR = "shadow"
#: ``ReloadEvent.version`` once the shadow directory is gone.
NO_SHADOW = "none"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ShadowStore:
    """Holds the shadow set; empty until the first :meth:`reload` (the runtime's ``"start"``)."""

    def __init__(
        self,
        live_dir: Path,
        capabilities: Mapping[str, Capability],
        on_reload: Callable[[ReloadEvent], None],
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.path = Path(live_dir) / SHADOW_DIR
        self._capabilities = capabilities
        self._on_reload = on_reload
        self._clock = clock
        #: The shadow set in force; ``None`` when there is none (the pipeline's only check).
        self.current: PolicySet | None = None
        self.last_error: str | None = None
        self.reload_failures = 0

    def reload(self, trigger: str = "manual") -> ReloadEvent | None:
        """Load ``shadow/`` again; swap it in only when the whole set is valid."""
        old = self.current
        if not self.path.is_dir():
            self.current = None
            if old is None:
                return None  # no shadow before, none now: nothing to say
            return self._notify(True, NO_SHADOW, None, trigger, True)
        try:
            new = load_policy_dir(self.path, self._capabilities)
        except PolicyError as exc:
            self.reload_failures += 1
            self.last_error = str(exc)
            version = old.version if old is not None else NO_SHADOW
            log.warning("shadow policy reload failed, keeping %s: %s", version, exc)
            return self._notify(False, version, str(exc), trigger, False)
        self.current = new
        self.last_error = None
        changed = old is None or old.version != new.version
        if not changed and trigger == "watch":
            return None
        return self._notify(True, new.version, None, trigger, changed)

    def _notify(
        self, ok: bool, version: str, error: str | None, trigger: str, changed: bool
    ) -> ReloadEvent:
        event = ReloadEvent(
            ok, version, error, self._clock(), self.reload_failures, trigger, changed
        )
        try:
            self._on_reload(event)
        except Exception:
            log.exception("shadow policy reload callback failed")
        return event

    def _below(self, change: tuple[watchfiles.Change, str]) -> bool:
        path, root = Path(change[1]), self.path.absolute()
        return path == root or root in path.parents

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload when ``shadow/`` appears, changes or goes, until ``stop_event``."""
        async for changes in watchfiles.awatch(
            self.path.parent.absolute(),
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=stop_event,
            recursive=True,
            watch_filter=None,
        ):
            if any(self._below(c) for c in changes):
                self.reload("watch")
