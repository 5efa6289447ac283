"""What every replica says of itself, through Redis: its policy version, kill switch and pid.

Each replica writes ``<prefix>replica:<id>`` (expiring after three heartbeats) every
``heartbeat_seconds`` and adds its id to ``<prefix>replicas``; ``/readyz`` and ``/metrics``
read the others back: the replicas alive and whether they agree on the policy version.

When this replica's policy set changes, it also publishes the new version on
``<prefix>policy``; a replica that hears of a version other than its own reloads its
checkout at once (it does not wait for its file watcher). Whatever the channel, a replica
only ever enforces the policy files it reads itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.shared.store import SharedStore, SharedUnavailable

__all__ = ["Peer", "Peers"]

log = logging.getLogger("labgate.shared.peers")


@dataclass(frozen=True, slots=True)
class Peer:
    replica: str
    policy_version: str
    kill_switch: bool
    pid: int


class Peers:
    """This replica's heartbeat, the others' last word, and the policy broadcast."""

    def __init__(
        self,
        store: SharedStore,
        replica: str,
        status: Callable[[], tuple[str, bool]],
        on_version: Callable[[str], Awaitable[object]],
    ) -> None:
        self.store = store
        self.replica = replica
        self._status = status
        self._on_version = on_version
        self.peers: dict[str, Peer] = {}
        self._interval = store.settings.heartbeat_seconds

    @property
    def versions(self) -> dict[str, list[str]]:
        """Policy version -> the replicas that have it in force (this one included)."""
        out: dict[str, list[str]] = {}
        for peer in self.peers.values():
            out.setdefault(peer.policy_version, []).append(peer.replica)
        return {v: sorted(r) for v, r in sorted(out.items())}

    @property
    def agree(self) -> bool:
        return len(self.versions) <= 1

    async def beat(self) -> None:
        """Publish this replica's status and read every replica's; raises SharedUnavailable."""
        version, kill = self._status()
        me = Peer(self.replica, version, kill, os.getpid())
        key = self.store.key("replica", self.replica)
        members = self.store.key("replicas")
        ttl = max(int(self._interval * 3000), 1000)
        async with self.store.use() as client:
            pipe = client.pipeline(transaction=False)
            pipe.set(key, json.dumps(_as_dict(me)), px=ttl)
            pipe.sadd(members, self.replica)
            pipe.smembers(members)
            _, _, names = await pipe.execute()
            ids = sorted(n.decode() for n in names)
            values = await client.mget([self.store.key("replica", i) for i in ids])
            gone = [i for i, v in zip(ids, values, strict=True) if v is None]
            if gone:
                await client.srem(members, *gone)
        peers = {}
        for raw in values:
            if raw is not None:
                peer = Peer(**json.loads(raw))
                peers[peer.replica] = peer
        peers[self.replica] = me
        self.peers = peers

    async def run(self) -> None:
        """Heartbeat forever (a task of the Runtime)."""
        while True:
            try:
                await self.beat()
            except SharedUnavailable:
                self.peers = {}
            await asyncio.sleep(self._interval)

    async def announce(self, version: str) -> None:
        """Tell the others this replica now enforces ``version``."""
        message = json.dumps({"replica": self.replica, "policy_version": version})
        try:
            async with self.store.use() as client:
                await client.publish(self.store.key("policy"), message)
        except SharedUnavailable:
            pass

    async def listen(self) -> None:
        """Reload when another replica announces a version this one does not have."""
        while True:
            try:
                await self._listen_once()
            except SharedUnavailable:
                pass
            except Exception as exc:  # a dropped subscription: resubscribe once Redis is back
                self.store.mark_down(exc)
            await self.store.wait_up()

    async def _listen_once(self) -> None:
        async with self.store.use() as client:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self.store.key("policy"))
        try:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                await self._heard(message)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _heard(self, message: dict[str, Any]) -> None:
        try:
            data = json.loads(message["data"])
            version, sender = str(data["policy_version"]), str(data["replica"])
        except (ValueError, KeyError, TypeError):
            return
        if sender != self.replica and version != self._status()[0]:
            log.info("replica %s enforces policy %s: reloading", sender, version)
            await self._on_version(version)


def _as_dict(peer: Peer) -> dict[str, Any]:
    return {
        "replica": peer.replica,
        "policy_version": peer.policy_version,
        "kill_switch": peer.kill_switch,
        "pid": peer.pid,
    }
