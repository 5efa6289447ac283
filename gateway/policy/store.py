"""The policy set in force, and how it is replaced: on file change and on SIGHUP.

Only a fully valid set replaces the current one (a single reference swap, so a reader sees
the old set or the new one, never a mix). A half-written file never lowers a guard that is
up (kill switch, maintenance): a set that turns one off must state it (``kill_switch: false``,
else it is refused), and the watcher and SIGHUP apply it only once the files read the same
twice, ``settle`` seconds apart (:meth:`PolicyStore.reload_settled`). An invalid edit keeps
the last good set and is remembered (``last_error``, ``last_error_at``, ``reload_failures``)
for ``/readyz``. Every reload, good or bad, is reported to ``on_reload`` (audit record,
log line, metric). The initial load happens in the constructor; its failure raises
:class:`PolicyError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import watchfiles

from gateway.capability import Capability
from gateway.errors import PolicyError
from gateway.policy import guards
from gateway.policy.loader import CASES_SUFFIX, GLOBAL_FILE, load_policy_dir
from gateway.policy.policyset import PolicySet

__all__ = ["PolicyStore", "ReloadEvent"]

log = logging.getLogger(__name__)

#: Watcher settings: changes are grouped for ``DEBOUNCE_MS`` so a kill switch edit lands
#: well under one second after the write.
DEBOUNCE_MS = 150
STEP_MS = 30
#: How long a set that lowers a guard must stay unchanged on disk before it applies.
SETTLE_SECONDS = 0.3


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    ok: bool
    #: The version in force after the reload (the old one when it failed).
    version: str
    #: ``file:line: message`` of the first problem; ``None`` when ok.
    error: str | None
    at: datetime
    #: Failed reloads since start (the one reported included).
    failures: int
    #: ``"start"``, ``"watch"``, ``"sighup"`` or ``"manual"``.
    trigger: str
    #: Whether the version in force changed.
    changed: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _relevant(change: tuple[watchfiles.Change, str]) -> bool:
    # Any change but a cases file: a mounted ConfigMap swaps a ``..data`` symlink, not files.
    return not Path(change[1]).name.endswith(CASES_SUFFIX)


class PolicyStore:
    def __init__(
        self,
        path: Path,
        capabilities: Mapping[str, Capability],
        on_reload: Callable[[ReloadEvent], None],
        *,
        clock: Callable[[], datetime] = _utcnow,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self.path = Path(path)
        self._capabilities = capabilities
        self._on_reload = on_reload
        self._clock = clock
        self.settle = settle
        self._settling = asyncio.Lock()
        self._current: PolicySet = load_policy_dir(self.path, capabilities)
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.reload_failures = 0
        self._notify(ReloadEvent(True, self._current.version, None, clock(), 0, "start", True))

    @property
    def current(self) -> PolicySet:
        return self._current

    def reload(self, trigger: str = "manual") -> ReloadEvent:
        """Load the directory again; swap it in only when the whole set is valid."""
        return self._apply(self._candidate(), trigger)

    async def reload_settled(self, trigger: str) -> ReloadEvent:
        """Like :meth:`reload`, but a set that lowers a guard applies only once settled.

        Settled: two reads ``settle`` seconds apart give the same files. Until then the
        guard stays up; a read that no longer lowers a guard (or fails) ends the wait.
        """
        async with self._settling:
            candidate = self._candidate()
            while isinstance(candidate, PolicySet) and self._lowers(candidate):
                await asyncio.sleep(self.settle)
                again = self._candidate()
                if isinstance(again, PolicySet) and again.version == candidate.version:
                    break
                candidate = again
            return self._apply(candidate, trigger)

    def _lowers(self, new: PolicySet) -> bool:
        return bool(guards.lowered(self._current.global_policy, new.global_policy))

    def _candidate(self) -> PolicySet | PolicyError:
        """The set on disk, or why it may not replace the one in force."""
        try:
            new = load_policy_dir(self.path, self._capabilities)
        except PolicyError as exc:
            return exc
        unstated = guards.unstated(self._current.global_policy, new.global_policy)
        if unstated:
            return PolicyError(
                f"{unstated[0]} is on; a policy that turns it off must say so "
                f"({unstated[0]}: false)",
                file=str(self.path / GLOBAL_FILE),
                line=1,
            )
        return new

    def _apply(self, candidate: PolicySet | PolicyError, trigger: str) -> ReloadEvent:
        old = self._current
        if isinstance(candidate, PolicyError):
            exc = candidate
            self.reload_failures += 1
            self.last_error = str(exc)
            self.last_error_at = self._clock()
            log.warning("policy reload failed, keeping %s: %s", old.version, exc)
            event = ReloadEvent(
                False,
                old.version,
                str(exc),
                self.last_error_at,
                self.reload_failures,
                trigger,
                False,
            )
        else:
            new = candidate
            self._current = new
            self.last_error = None
            if new.version != old.version:
                log.info("policy %s replaces %s", new.version, old.version)
            event = ReloadEvent(
                True,
                new.version,
                None,
                self._clock(),
                self.reload_failures,
                trigger,
                new.version != old.version,
            )
        if event.ok and not event.changed and trigger == "watch":
            return event  # an editor's temp file, a touch: nothing to report
        self._notify(event)
        return event

    def _notify(self, event: ReloadEvent) -> None:
        try:
            self._on_reload(event)
        except Exception:
            log.exception("policy reload callback failed")

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload on every change of a policy file in the directory, until ``stop_event``."""
        async for changes in watchfiles.awatch(
            self.path,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=stop_event,
            recursive=False,
            watch_filter=None,
        ):
            if any(_relevant(c) for c in changes):
                await self.reload_settled("watch")
