"""State shared by the replicas of one gateway, through Redis: limits, cache, replica status.

Optional: without a ``redis`` section every piece is local to the process (one gateway, one
process). See docs/replicas.md. The modules are imported by name (``gateway.shared.limits``,
...): the settings import :mod:`gateway.shared.settings` without loading a Redis client.

* :mod:`~gateway.shared.settings` — ``replica`` and ``redis`` settings
* :mod:`~gateway.shared.store` — the Redis connection, up or away
* :mod:`~gateway.shared.limits` — token buckets in Redis, fail closed when away
* :mod:`~gateway.shared.flight` — the result cache and single-flight across replicas
* :mod:`~gateway.shared.peers` — each replica's policy version, and the policy broadcast
* :mod:`~gateway.shared.replica` — this process as one replica (what the runtime holds)
"""
