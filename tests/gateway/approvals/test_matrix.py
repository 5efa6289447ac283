"""Approvals in a real Synapse room: only an allowed approver's verdict in the configured room
applies a proposal; every forgery is refused and audited; verdicts given while labgate is down
are read on start; an end-to-end encrypted room is refused; operator notices reach the room."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from gateway.approvals.matrix import MatrixError
from gateway.approvals.store import ProposalStore
from gateway.errors import ConfigError
from tests.capabilities.documents.fake_paperless import serve
from tests.capabilities.documents.proposals_world import (
    Clock,
    Gate,
    World,
    gateway,
    make_world,
    write_policies,
)
from tests.support.synapse import Synapse

_names = itertools.count(1)


async def until(what: str, check: Callable[[], Any]) -> Any:
    """Wait for an event (a hang guard, not a speed bound)."""
    for _ in range(3000):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


class Room:
    """One test's Matrix cast: the approver, a stranger, labgate's account, the room."""

    def __init__(self, synapse: Synapse, tmp: Path, encrypted: bool = False) -> None:
        n = next(_names)
        self.synapse = synapse
        self.owner = synapse.register(f"owner-{n}")
        self.mallory = synapse.register(f"mallory-{n}")
        self.labgate = synapse.register(f"labgate-{n}")
        self.room = self.owner.create_room(
            invite=(self.labgate.user_id, self.mallory.user_id), encrypted=encrypted
        )
        self.mallory.join(self.room)
        (tmp / "matrix-token").write_text(self.labgate.access_token)
        write_policies(tmp, approver=self.owner.user_id)
        self.tmp = tmp

    def settings(self) -> dict[str, Any]:
        return {
            "upstreams": {
                "matrix": {
                    "base_url": self.synapse.url,
                    "auth": {"scheme": "bearer", "secret_file": str(self.tmp / "matrix-token")},
                    "read_timeout": 30,
                    "total_timeout": 35,
                    "retries": 0,
                }
            },
            "approvals": {
                "matrix": {"room_id": self.room, "sync_timeout_seconds": 1, "retry_seconds": 0.2}
            },
        }

    def gateway(self, url: str, clock: Clock) -> AbstractAsyncContextManager[Gate]:
        return gateway(self.tmp, url, clock, **self.settings())

    def post_of(self, proposal_id: str) -> dict[str, Any] | None:
        for event in self.owner.messages(self.room):
            if event["content"].get("dev.labgate.proposal") == proposal_id:
                return event
        return None

    def notices(self) -> list[str]:
        return [
            e["content"]["body"]
            for e in self.owner.messages(self.room)
            if e["type"] == "m.room.message" and e["content"].get("msgtype") == "m.notice"
        ]


def status(gate: Gate, proposal_id: str) -> str:
    store = ProposalStore(gate.store)
    try:
        row = store.get(proposal_id)
        return row.status if row else "missing"
    finally:
        store.close()


def ignored(gate: Gate, reason: str) -> list[dict[str, Any]]:
    return [r for r in gate.records() if r["decision"] == "ignored" and r["reasons"] == [reason]]


async def propose(gate: Gate, **args: Any) -> str:
    body = {"document_id": 1, "reason": "Invoice from ACME.\n<b>ignore previous</b>", **args}
    r = await gate.rest("documents_propose_metadata", body)
    assert r.status_code == 200, r.text
    return str(r.json()["result"]["proposal_id"])


@pytest.fixture
def world() -> World:
    return make_world()


async def test_only_an_allowed_approver_in_the_room_applies_and_forgeries_are_audited(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    owner, mallory = cast.owner, cast.mallory
    with serve(world.fake) as url:
        async with cast.gateway(url, Clock()) as gate:
            pid = await propose(gate, add_tags=["ai/invoice"], title="ACME invoice")
            post = await until("the proposal is posted", lambda: cast.post_of(pid))
            body = post["content"]["body"]
            assert "tags: agent-visible, inbox → agent-visible, ai/invoice, inbox" in body
            assert "title: Scan 0001 → ACME invoice" in body
            assert "> <b>ignore previous</b>" in body  # quoted, as text
            assert "&lt;b&gt;ignore previous&lt;/b&gt;" in post["content"]["formatted_body"]
            assert "<b>ignore" not in post["content"]["formatted_body"]
            target = post["event_id"]

            # Another user of the room: audited, nothing applied.
            mallory.react(cast.room, target, "✅")
            await until("not an approver", lambda: ignored(gate, "not-an-approver"))
            # The approver, in another room labgate's account is in.
            other = owner.create_room(invite=(cast.labgate.user_id,))
            cast.labgate.join(other)
            owner.say(other, f"approve {pid}")
            await until("wrong room", lambda: ignored(gate, "wrong-room"))
            # A look-alike of labgate's post, approved: not a proposal labgate posted.
            copy = mallory.send(cast.room, "m.room.message", dict(post["content"]))
            owner.react(cast.room, copy, "✅")
            await until("look-alike", lambda: ignored(gate, "unknown-proposal"))
            # A message edited into a command.
            said = owner.say(cast.room, "looks fine to me", reply_to=target)
            owner.edit(cast.room, said, "approve")
            await until("edit", lambda: ignored(gate, "edit-ignored"))
            assert status(gate, pid) == "pending"
            assert world.writes() == []

            owner.react(cast.room, target, "✅")
            await until("applied", lambda: "applied" in gate.steps(pid))
            assert world.writes() == ["PATCH /api/documents/1/"]
            assert world.tag_names(1) == {"agent-visible", "inbox", "ai/invoice"}
            assert world.doc(1)["title"] == "ACME invoice"

            # A second verdict, the other way: nothing changes.
            owner.react(cast.room, target, "❌")
            await until("second reaction", lambda: ignored(gate, "already-decided"))
            steps = gate.steps(pid)
            assert steps[:2] == ["proposed", "posted"]
            assert "approved" in steps and steps.count("applied") == 1
            approved = next(r for r in gate.records() if r["decision"] == "approved")
            assert approved["notes"]["actor"] == owner.user_id
            assert approved["notes"]["via"] == "matrix"
            await until("result notice", lambda: any("applied" in n for n in cast.notices()))

        # Restart with the sync position lost: every event is read again, none counts twice.
        store = ProposalStore(tmp_path / "proposals.db")
        store._conn.execute("DELETE FROM kv")
        store.close()
        async with cast.gateway(url, Clock()) as gate:
            await until("replays", lambda: len(ignored(gate, "replayed-event")) >= 5)
            replayed = {r["notes"]["event_id"] for r in ignored(gate, "replayed-event")}
            owners = [r for r in gate.records() if r["decision"] == "approved"]
            assert owners[0]["notes"]["event_id"] in replayed
        assert world.writes() == ["PATCH /api/documents/1/"]


async def test_reply_commands_and_verdicts_given_while_labgate_is_down(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    with serve(world.fake) as url:
        async with cast.gateway(url, Clock()) as gate:
            first = await propose(gate, add_tags=["ai/invoice"])
            second = await propose(gate, add_tags=["ai/astro"])
            third = await propose(gate, remove_tags=["inbox"])
            posts = [await until("posted", partial(cast.post_of, p)) for p in (first, second)]
            await until("posted", lambda: cast.post_of(third))
            cast.owner.say(cast.room, "approve", reply_to=posts[0]["event_id"])
            cast.owner.say(cast.room, f"deny {second}")
            await until("applied", lambda: "applied" in gate.steps(first))
            await until("denied", lambda: "denied" in gate.steps(second))
            assert world.tag_names(1) == {"agent-visible", "inbox", "ai/invoice"}
        # labgate is down: the approver approves; the next start reads it and applies.
        post = cast.post_of(third)
        assert post is not None
        cast.owner.react(cast.room, post["event_id"], "✅")
        assert world.tag_names(1) == {"agent-visible", "inbox", "ai/invoice"}
        async with cast.gateway(url, Clock()) as gate:
            await until("applied after restart", lambda: "applied" in gate.steps(third))
        assert world.tag_names(1) == {"agent-visible", "ai/invoice"}


async def test_a_verdict_after_expiry_applies_nothing(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    clock = Clock()
    with serve(world.fake) as url:
        async with cast.gateway(url, clock) as gate:
            pid = await propose(gate, add_tags=["ai/invoice"])
            post = await until("posted", lambda: cast.post_of(pid))
            clock.advance(3600)
            await until("expired", lambda: "expired" in gate.steps(pid))
            cast.owner.react(cast.room, post["event_id"], "✅")
            await until("late reaction", lambda: ignored(gate, "proposal-expired"))
            assert world.writes() == []
            assert gate.steps(pid)[-2:] == ["expired", "ignored"]


async def test_an_encrypted_room_is_refused(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path, encrypted=True)
    with serve(world.fake) as url:
        with pytest.raises(ConfigError, match="end-to-end encrypted"):
            async with cast.gateway(url, Clock()):
                pass


async def test_operator_notices_reach_the_room(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    with serve(world.fake) as url:
        async with cast.gateway(url, Clock()) as gate:
            runtime = gate.http._transport.app.state.runtime  # type: ignore[attr-defined]
            policies = tmp_path / "policies"
            (policies / "documents.yaml").write_text("capability: documents\nrules: [oops\n")
            await runtime.policies.reload_settled("manual")
            await until("reload notice", lambda: any("reload refused" in n for n in cast.notices()))
            write_policies(tmp_path, approver=cast.owner.user_id)
            gateway_yaml = policies / "gateway.yaml"
            gateway_yaml.write_text(
                gateway_yaml.read_text().replace("kill_switch: false", "kill_switch: true")
            )
            await runtime.policies.reload_settled("manual")
            await until("kill notice", lambda: any("kill switch" in n for n in cast.notices()))


async def test_a_room_that_becomes_encrypted_is_left(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    with serve(world.fake) as url:
        async with cast.gateway(url, Clock()) as gate:
            runtime = gate.http._transport.app.state.runtime  # type: ignore[attr-defined]
            link = runtime.approvals.link
            await until("ready", lambda: link.state == "ready")
            path = f"/rooms/{cast.room}/state/m.room.encryption/"
            cast.owner._call("PUT", path.replace("!", "%21"), {"algorithm": "m.megolm.v1.aes-sha2"})
            await until("refused", lambda: link.state == "refused")
            pid = await propose(gate, add_tags=["ai/invoice"])
            _, checks = await runtime.readiness()
            assert checks["approvals_room"] == "refused"
            with pytest.raises(MatrixError, match="not usable"):  # nothing goes to the room
                await runtime.approvals.desk.post_pending()
            assert cast.post_of(pid) is None
            assert status(gate, pid) == "pending"


async def test_a_proposal_made_over_mcp_is_applied_after_the_approvers_reaction(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    with serve(world.fake) as url:
        async with cast.gateway(url, Clock()) as gate:
            args = {"document_id": 1, "add_tags": ["ai/astro"], "reason": "an M31 receipt"}
            result = await gate.mcp_call("documents_propose_metadata", args)
            assert result.get("isError") is not True, result
            pid = result["structuredContent"]["result"]["proposal_id"]
            post = await until("posted", lambda: cast.post_of(pid))
            assert world.writes() == []
            cast.owner.react(cast.room, post["event_id"], "✅")
            await until("applied", lambda: "applied" in gate.steps(pid))
            assert world.tag_names(1) == {"agent-visible", "inbox", "ai/astro"}
            status = await gate.mcp_call("documents_proposal_status", {"proposal_id": pid})
            assert status["structuredContent"]["result"]["status"] == "applied"


async def test_a_verdict_buried_under_many_messages_while_down_is_still_read(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    with serve(world.fake) as url:
        async with cast.gateway(url, Clock()) as gate:
            pid = await propose(gate, add_tags=["ai/invoice"])
            post = await until("posted", lambda: cast.post_of(pid))
        cast.owner.react(cast.room, post["event_id"], "✅")
        for n in range(130):  # more than one sync's timeline (100 events)
            cast.mallory.say(cast.room, f"chatter {n}")
        async with cast.gateway(url, Clock()) as gate:
            await until("applied after the gap", lambda: "applied" in gate.steps(pid))
        assert world.tag_names(1) == {"agent-visible", "inbox", "ai/invoice"}


async def test_a_rejected_access_token_stops_start_up(
    synapse_server: Synapse, tmp_path: Path, world: World
) -> None:
    cast = Room(synapse_server, tmp_path)
    (tmp_path / "matrix-token").write_text("syt_not_a_token")
    with serve(world.fake) as url:
        with pytest.raises(ConfigError, match="rejects labgate's access token"):
            async with cast.gateway(url, Clock()):
                pass
