"""Rate limits shared by every replica: the token buckets of :mod:`gateway.limits`, in Redis.

One Lua script takes a token from each bucket of a call, in order, atomically, on Redis's
clock: with a limit of K per window, K calls pass across all replicas together. A refused
call takes from no later bucket, as in the local limiter.

When Redis is away each limit does what its policy says (``limits.fallback``):

* ``deny`` (default): the call is refused, 503 ``unavailable`` with reason
  ``limits-unavailable`` — a limit is a guard, and a guard that cannot be checked holds;
* ``local``: this process's own bucket decides (the limit then holds per replica).

Without Redis configured every bucket is local (one process, one gateway).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from gateway.errors import Unavailable
from gateway.limits import Limiter, RateSpec
from gateway.policy.loader import PolicySet
from gateway.shared.store import SharedStore, SharedUnavailable

__all__ = ["LimitsUnavailable", "SharedLimits", "when_away"]

# KEYS: the buckets; ARGV: per bucket its tokens per second, then its capacity.
# Returns false when every bucket gave a token, else the seconds until the refusing one has one.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local cap = tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', key, 'tokens', 'stamp')
  local tokens = tonumber(b[1])
  local stamp = tonumber(b[2])
  if tokens == nil or stamp == nil then
    tokens = cap
    stamp = now
  end
  tokens = math.min(cap, tokens + math.max(0, now - stamp) * rate)
  local ttl = math.ceil(cap / rate * 1000) + 1000
  if tokens >= 1 then
    redis.call('HSET', key, 'tokens', tostring(tokens - 1), 'stamp', tostring(now))
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('HSET', key, 'tokens', tostring(tokens), 'stamp', tostring(now))
    redis.call('PEXPIRE', key, ttl)
    return tostring((1 - tokens) / rate)
  end
end
return false
"""


class LimitsUnavailable(Unavailable):
    """A limit that fails closed could not be checked (Redis away)."""

    default_message = "Rate limits cannot be checked right now; retry shortly."


class FallbackSpec(RateSpec, Protocol):
    @property
    def fallback(self) -> str: ...


class SharedLimits:
    """The limiter the pipeline calls: Redis when configured, else (or as fallback) local."""

    def __init__(self, store: SharedStore | None = None) -> None:
        self.store = store
        self.local = Limiter()
        #: Calls decided while Redis was away, by what the limit did: ``deny`` or ``local``.
        self.fallbacks = {"deny": 0, "local": 0}
        self._script: Any = None

    @property
    def shared(self) -> bool:
        return self.store is not None

    async def check(
        self, limits: Sequence[tuple[tuple[str, ...], RateSpec | None]], now: float
    ) -> float | None:
        """None when every bucket gave a token, else seconds to wait; see the module doc."""
        active = [(key, spec) for key, spec in limits if spec is not None]
        if not active:
            return None
        if self.store is None:
            return self.local.check(active, now)
        try:
            return await self._take_shared(self.store, active)
        except SharedUnavailable as exc:
            return self._fallback(active, now, str(exc))

    async def _take_shared(
        self, store: SharedStore, active: list[tuple[tuple[str, ...], RateSpec]]
    ) -> float | None:
        keys = [
            store.key("limit", json.dumps(list(key), separators=(",", ":"))) for key, _ in active
        ]
        args: list[float | int] = []
        for _, spec in active:
            args += [spec.count / spec.period_seconds, max(spec.burst or spec.count, 1)]
        async with store.use() as client:
            if self._script is None:
                self._script = client.register_script(_TAKE)
            wait = await self._script(keys=keys, args=args, client=client)
        return None if wait is None else float(wait)

    def _fallback(
        self, active: list[tuple[tuple[str, ...], RateSpec]], now: float, why: str
    ) -> float | None:
        for _, spec in active:
            if getattr(spec, "fallback", "deny") != "local":
                self.fallbacks["deny"] += 1
                raise LimitsUnavailable(internal=f"shared limits unavailable: {why}")
        self.fallbacks["local"] += 1
        return self.local.check(active, now)


def when_away(policy_set: PolicySet) -> dict[str, list[str]]:
    """Which limits fail closed (``deny``) and which count locally while Redis is away.

    Limits are named ``global`` (gateway.yaml) and ``<capability>/<rule id>``."""
    out: dict[str, list[str]] = {"deny": [], "local": []}
    if policy_set.global_policy.limits is not None:
        out[policy_set.global_policy.limits.fallback].append("global")
    for name, cap in sorted(policy_set.capabilities.items()):
        for rule in cap.rules:
            if rule.limits is not None:
                out[rule.limits.fallback].append(f"{name}/{rule.id}")
    return out
