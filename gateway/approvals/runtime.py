"""``Approvals``: what the gateway's Runtime opens for proposals, and closes.

approvals = Approvals(settings, registry, policies, resources, configs, audit, clock)
await approvals.open(upstreams, spawn)      # store, desk, room (when configured), loops
pipeline = Pipeline(..., proposals=approvals.desk)
approvals.on_reload(event, policy_set)     # notices: kill switch engaged, reload failed
await approvals.close()
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from gateway.approvals.desk import AuditWriter, ProposalDesk
from gateway.approvals.link import ENCRYPTED_MESSAGE, MatrixLink
from gateway.approvals.matrix import EncryptedRoom, MatrixClient, TokenRejected
from gateway.approvals.store import ProposalStore
from gateway.capability import Resources
from gateway.errors import ConfigError
from gateway.policy.loader import PolicySet
from gateway.policy.store import PolicyStore, ReloadEvent
from gateway.registry import Registry
from gateway.settings import Settings
from gateway.upstream import Upstreams

__all__ = ["Approvals"]

log = logging.getLogger("labgate.approvals")

Spawn = Callable[[Coroutine[Any, Any, Any], str], None]


class Approvals:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        policies: PolicyStore,
        resources: Mapping[str, Resources],
        configs: Mapping[str, BaseModel],
        audit: AuditWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        matrix = settings.approvals.matrix
        self.store = ProposalStore(settings.proposals_path())
        self.desk = ProposalDesk(
            store=self.store,
            registry=registry,
            policies=policies,
            resources=resources,
            configs=configs,
            audit=audit,
            clock=clock,
            room_id=matrix.room_id if matrix else None,
        )
        self.link: MatrixLink | None = None
        self._kill_switch = policies.current.global_policy.kill_switch

    async def open(self, upstreams: Upstreams, spawn: Spawn) -> None:
        matrix = self.settings.approvals.matrix
        if matrix is not None:
            up = self.settings.upstreams.get(matrix.upstream)
            if up is None:
                raise ConfigError(
                    f"approvals.matrix needs upstream {matrix.upstream!r}, which is not configured",
                    key=f"upstreams.{matrix.upstream}",
                )
            if min(up.read_timeout, up.total_timeout) <= matrix.sync_timeout_seconds:
                raise ConfigError(
                    f"upstreams.{matrix.upstream}: read_timeout and total_timeout must exceed "
                    f"approvals.matrix.sync_timeout_seconds ({matrix.sync_timeout_seconds})",
                    key=f"upstreams.{matrix.upstream}.read_timeout",
                )
            client = MatrixClient(upstreams.get(matrix.upstream), matrix.room_id)
            self.link = MatrixLink(client, matrix, self.desk)
            try:
                await self.link.prepare()
            except EncryptedRoom:
                raise ConfigError(
                    ENCRYPTED_MESSAGE.format(room=matrix.room_id), key="approvals.matrix.room_id"
                ) from None
            except TokenRejected:
                raise ConfigError(
                    f"the homeserver rejects labgate's access token "
                    f"(upstreams.{matrix.upstream}.auth.secret_file): log in again, see "
                    "docs/approvals.md",
                    key=f"upstreams.{matrix.upstream}.auth.secret_file",
                ) from None
            except Exception as exc:  # Matrix away at start: reads go on, the loop retries
                log.warning("approvals room not reachable at start (%s)", type(exc).__name__)
            self.desk.poster = self.link
            spawn(self.link.run(), "approvals-matrix")
        spawn(self._loop(), "approvals-desk")

    async def _loop(self) -> None:
        """Expire, take operator decisions, post new proposals; resume approved ones first."""
        desk = self.desk
        await self._step(desk.resume)
        while True:
            await self._step(desk.expire_due)
            await self._step(desk.inbox)
            if self.link is not None and self.link.state == "ready":
                await self._step(desk.post_pending)
            try:
                await asyncio.wait_for(desk.wake.wait(), self.settings.approvals.poll_seconds)
            except TimeoutError:
                pass
            desk.wake.clear()

    @staticmethod
    async def _step(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("approvals: %s failed (%s: %s)", fn.__name__, type(exc).__name__, exc)

    def on_reload(self, event: ReloadEvent, current: PolicySet, spawn: Spawn) -> None:
        """Operator notices in the room: the kill switch engaged, a policy reload refused."""
        engaged = current.global_policy.kill_switch
        was, self._kill_switch = self._kill_switch, engaged
        link = self.link
        if link is None:
            return
        txn = f"labgate-notice-{secrets.token_hex(6)}"
        if not event.ok:
            text = f"policy reload refused, last good set {event.version} kept: {event.error}"
            spawn(link.notify(text, txn), "approvals-notice")
        elif engaged and not was:
            text = f"kill switch engaged (policy {event.version}): agent access is switched off"
            spawn(link.notify(text, txn), "approvals-notice")

    async def close(self) -> None:
        await asyncio.to_thread(self.store.close)
