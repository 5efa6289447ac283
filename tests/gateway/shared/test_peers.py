"""Replica status and the policy broadcast against a real redis-server."""

from __future__ import annotations

import asyncio

from gateway.shared.peers import Peers
from gateway.shared.settings import RedisSettings
from gateway.shared.store import SharedStore
from tests.support.redis import RedisServer


async def test_replicas_see_each_others_policy_version_and_hear_a_change(
    redis_server: RedisServer,
) -> None:
    stores = []
    for _ in range(2):
        store = SharedStore(RedisSettings(url=redis_server.url, heartbeat_seconds=0.1))
        await store.start()
        stores.append(store)
    versions = {"a": "v1", "b": "v1"}
    heard: list[tuple[str, str]] = []

    def peers(name: str, store: SharedStore) -> Peers:
        async def on_version(version: str) -> None:
            heard.append((name, version))
            versions[name] = version  # as a reload of the checkout would

        return Peers(store, name, lambda: (versions[name], False), on_version)

    a, b = peers("a", stores[0]), peers("b", stores[1])
    tasks = [asyncio.ensure_future(c) for c in (a.run(), b.run(), a.listen())]
    try:
        while set(a.peers) != {"a", "b"}:
            await asyncio.sleep(0.02)
        assert a.agree and a.versions == {"v1": ["a", "b"]}
        versions["b"] = "v2"
        while a.agree:  # the heartbeat shows the disagreement
            await asyncio.sleep(0.02)
        assert a.versions == {"v1": ["a"], "v2": ["b"]}
        await b.announce("v2")  # and the broadcast makes "a" reload
        while ("a", "v2") not in heard:
            await asyncio.sleep(0.02)
        while not a.agree:
            await asyncio.sleep(0.02)
        # A listener that stays idle for longer than the command timeout is not an outage.
        await asyncio.sleep(3 * stores[0].settings.timeout_seconds + 1.0)
        assert stores[0].failures == 0 and stores[0].up
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for store in stores:
            await store.stop()


async def test_a_replica_that_stops_beating_drops_out(redis_server: RedisServer) -> None:
    settings = RedisSettings(url=redis_server.url, heartbeat_seconds=0.1)
    one, two = SharedStore(settings), SharedStore(settings)
    await one.start()
    await two.start()

    async def ignore(version: str) -> None:
        pass

    a = Peers(one, "a", lambda: ("v1", False), ignore)
    b = Peers(two, "b", lambda: ("v9", False), ignore)
    await b.beat()
    await a.beat()
    assert set(a.peers) == {"a", "b"} and not a.agree
    await two.stop()  # "b" is gone: its key expires after three heartbeats
    while set(a.peers) != {"a"}:
        await asyncio.sleep(0.1)
        await a.beat()
    assert a.agree
    await one.stop()
