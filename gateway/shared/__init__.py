"""State shared by the replicas of one gateway, through Redis: limits, cache, replica status.

Optional: without a ``redis`` section every piece is local to the process (one gateway, one
process). See docs/replicas.md.
"""

from __future__ import annotations

from gateway.shared.flight import SharedCache
from gateway.shared.limits import LimitsUnavailable, SharedLimits
from gateway.shared.peers import Peer, Peers
from gateway.shared.settings import RedisSettings, ReplicaSettings
from gateway.shared.store import SharedStore, SharedUnavailable

__all__ = [
    "LimitsUnavailable",
    "Peer",
    "Peers",
    "RedisSettings",
    "ReplicaSettings",
    "SharedCache",
    "SharedLimits",
    "SharedStore",
    "SharedUnavailable",
]
