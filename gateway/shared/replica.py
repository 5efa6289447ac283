"""This process as one replica of a gateway: its name and what it shares with the others.

replica = Replica(settings.replica.resolved_id(), settings.redis)
await replica.start(policies)      # Redis when configured (never fails because it is away)
replica.limiter, replica.cache     # for the pipeline
replica.background()               # heartbeat and policy broadcast, for the runtime to run
replica.status(policies)           # /readyz checks.replica
replica.facts(policies)            # /metrics
await replica.stop()
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from gateway.policy.store import PolicyStore
from gateway.shared.flight import SharedCache
from gateway.shared.limits import SharedLimits, when_away
from gateway.shared.peers import Peers
from gateway.shared.settings import RedisSettings
from gateway.shared.store import SharedStore
from gateway.telemetry import ReplicaFacts

__all__ = ["CallResult", "Replica"]

#: What the pipeline caches: the tool's output, whether it is partial, when it was retrieved.
CallResult = tuple[dict[str, Any], bool, str]


def _encode(value: CallResult) -> list[Any]:
    return list(value)


def _decode(value: Any) -> CallResult:
    output, partial, retrieved = value
    return dict(output), bool(partial), str(retrieved)


class Replica:
    def __init__(self, replica_id: str, redis: RedisSettings | None) -> None:
        self.id = replica_id
        self.store = SharedStore(redis) if redis is not None else None
        self.limiter = SharedLimits(self.store)
        #: None without Redis: the pipeline keeps its own cache.
        self.cache: SharedCache[CallResult] | None = (
            SharedCache(self.store, _encode, _decode) if self.store is not None else None
        )
        self.peers: Peers | None = None

    async def start(self, policies: PolicyStore) -> None:
        if self.store is None:
            return
        await self.store.start()

        def status() -> tuple[str, bool]:
            return policies.current.version, policies.current.global_policy.kill_switch

        async def heard(version: str) -> None:
            await policies.reload_settled("broadcast")

        self.peers = Peers(self.store, self.id, status, heard)

    def background(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        if self.peers is None:
            return []
        return [(self.peers.run(), "replica-heartbeat"), (self.peers.listen(), "policy-broadcast")]

    def announce(self, version: str) -> Coroutine[Any, Any, None] | None:
        """Tell the other replicas this one now enforces ``version`` (None without Redis)."""
        return self.peers.announce(version) if self.peers is not None else None

    def status(self, policies: PolicyStore | None) -> dict[str, Any]:
        """``/readyz`` ``checks.replica``. Redis being away never makes a replica unready: only
        the limits that fail closed refuse calls; taking every replica out would refuse all."""
        out: dict[str, Any] = {"id": self.id}
        if policies is not None:
            out["policy_version"] = policies.current.version
        if self.store is None:
            out["redis"] = None
            return out
        out["redis"] = {"up": self.store.up, "last_error": self.store.last_error}
        if policies is not None:
            out["limits_when_redis_away"] = when_away(policies.current)
        out["limit_fallbacks"] = dict(self.limiter.fallbacks)
        if self.peers is not None:
            out["peers"] = sorted(self.peers.peers)
            out["policy_versions"] = self.peers.versions
            out["policy_agree"] = self.peers.agree
        return out

    def facts(self, policies: PolicyStore | None) -> ReplicaFacts:
        versions = self.peers.versions if self.peers is not None else {}
        return ReplicaFacts(
            replica=self.id,
            policy_version=policies.current.version if policies is not None else "",
            policy_versions=len(versions) if versions else 1,
            redis_up=self.store.up if self.store is not None else None,
            fallbacks=dict(self.limiter.fallbacks),
        )

    async def stop(self) -> None:
        if self.store is not None:
            await self.store.stop()
