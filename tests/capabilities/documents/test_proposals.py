"""Proposals end to end, without Matrix: the agent proposes through REST and MCP, nothing is
written until the operator approves (``labgate approvals approve``), and what is applied is the
stored proposal, checked again against scope and bounds at apply time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main

from .fake_paperless import TOKENS, serve
from .proposals_world import Clock, Gate, World, gateway, make_world, write_policies


async def until(what: str, check: Callable[[], bool]) -> None:
    """Wait for an event of the gateway's background loop (a hang guard, not a speed bound)."""
    for _ in range(6000):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def cli(store: Path, *argv: str) -> int:
    return main(["approvals", "--store", str(store), *argv])


async def propose(gate: Gate, **args: Any) -> dict[str, Any]:
    body = {"document_id": 1, "reason": "Looks like an ACME invoice.", **args}
    r = await gate.rest("documents_propose_metadata", body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


@pytest.fixture
def world() -> World:
    return make_world()


async def test_nothing_is_written_until_the_operator_approves(
    tmp_path: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            ticket = await propose(
                gate, add_tags=["ai/invoice"], remove_tags=["inbox"], title="ACME invoice"
            )
            assert ticket["status"] == "pending" and len(ticket["proposal_id"]) == 16
            pid = ticket["proposal_id"]
            assert world.writes() == []
            assert world.tag_names(1) == {"agent-visible", "inbox"}

            r = await gate.rest("documents_proposal_status", {"proposal_id": pid})
            assert r.status_code == 200, r.text
            status = r.json()["result"]
            assert status["status"] == "pending" and status["applied"] is None
            assert {c["field"] for c in status["changes"]} == {"tags", "title"}
            assert "changes[].current" in r.json()["untrusted"]

            assert cli(gate.store, "list") == 0
            assert pid in capsys.readouterr().out
            assert cli(gate.store, "approve", pid) == 0
            await until("applied", lambda: "applied" in gate.steps(pid))

            assert world.writes() == ["PATCH /api/documents/1/"]
            patch = next(e for e in world.fake.log if e.method == "PATCH")
            assert patch.headers["authorization"] == f"Token {TOKENS['alice']}"  # the write token
            assert world.tag_names(1) == {"agent-visible", "ai/invoice"}
            assert world.doc(1)["title"] == "ACME invoice"

            r = await gate.rest("documents_proposal_status", {"proposal_id": pid})
            done = r.json()["result"]
            assert done["status"] == "applied"
            assert {c["field"] for c in done["applied"]} == {"tags", "title"}
            assert gate.steps(pid) == ["proposed", "approved", "applied"]
            approved = next(r for r in gate.records() if r["decision"] == "approved")
            assert approved["notes"]["via"] == "operator"
            assert approved["notes"]["actor"].startswith("operator:")
            assert approved["request_id"] == gate.records("call")[0]["request_id"]

            # A decided proposal cannot be decided again.
            assert cli(gate.store, "deny", pid) == 1


async def test_deny_writes_nothing_and_another_agent_cannot_see_it(
    tmp_path: Path, world: World
) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, add_tags=["ai/astro"]))["proposal_id"]
            other = gate.token("hermes", sub="someone-else")
            r = await gate.rest("documents_proposal_status", {"proposal_id": pid}, token=other)
            assert r.status_code == 404
            assert cli(gate.store, "deny", pid) == 0
            await until("denied", lambda: "denied" in gate.steps(pid))
            assert world.writes() == []
            assert gate.steps(pid) == ["proposed", "denied"]


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"add_tags": ["private"]}, 422),  # not in add_tags globs
        ({"remove_tags": ["agent-visible"]}, 422),  # not in remove_tags
        ({"add_tags": ["medical"]}, 422),  # a tag the scope forbids: unknown name
        ({"correspondent": "ACME"}, 422),  # a field the rule does not open
        ({"remove_tags": ["ai/invoice"]}, 422),  # not on the document
        ({"add_tags": ["ai/nonexistent"]}, 422),  # labgate never creates tags
        ({"title": "Scan 0001"}, 422),  # nothing would change
        ({"document_id": 2, "add_tags": ["ai/invoice"]}, 404),  # outside the read scope
        ({"document_id": 99, "add_tags": ["ai/invoice"]}, 404),  # missing: the same answer
    ],
)
async def test_proposals_outside_bounds_or_scope_are_refused(
    tmp_path: Path, world: World, args: dict[str, Any], status: int
) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            body = {"document_id": 1, "reason": "r", **args}
            r = await gate.rest("documents_propose_metadata", body)
            assert r.status_code == status, r.text
            assert gate.records() == []
            assert world.writes() == []


async def test_scope_is_checked_again_at_apply_time(tmp_path: Path, world: World) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, add_tags=["ai/invoice"]))["proposal_id"]
            # Someone tags the document medical before the human approves.
            world.fake.set_tags(1, [*world.doc(1)["tags"], world.ids["medical"]])
            assert cli(gate.store, "approve", pid) == 0
            await until("failed", lambda: "failed" in gate.steps(pid))
            assert world.writes() == []
            failed = [r for r in gate.records() if r["decision"] == "failed"]
            assert failed[0]["reasons"] == ["scope-violation"]


async def test_bounds_are_checked_again_at_apply_time(tmp_path: Path, world: World) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, add_tags=["ai/invoice"]))["proposal_id"]
            policy = tmp_path / "policies" / "documents.yaml"
            policy.write_text(policy.read_text().replace('add_tags: ["ai/*"]', "add_tags: [x]"))
            gate_rt = gate  # the store reloads on SIGHUP or by watch; reload it here
            await reload(gate_rt, tmp_path)
            assert cli(gate.store, "approve", pid) == 0
            await until("failed", lambda: "failed" in gate.steps(pid))
            assert world.writes() == []
            failed = [r for r in gate.records() if r["decision"] == "failed"]
            assert failed[0]["reasons"] == ["bounds-changed"]


async def reload(gate: Gate, tmp: Path) -> None:
    app = gate.http._transport.app  # type: ignore[attr-defined]
    await app.state.runtime.policies.reload_settled("manual")


async def test_the_write_user_lacking_permission_fails_the_proposal(
    tmp_path: Path, world: World
) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, document_id=3, add_tags=["ai/astro"]))["proposal_id"]
            assert cli(gate.store, "approve", pid) == 0
            await until("failed", lambda: "failed" in gate.steps(pid))
            assert world.tag_names(3) == {"agent-visible"}
            failed = [r for r in gate.records() if r["decision"] == "failed"]
            assert failed[0]["reasons"] == ["upstream_error"]


async def test_paperless_down_at_apply_time(tmp_path: Path, world: World) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, add_tags=["ai/invoice"]))["proposal_id"]
            world.fake.faults.append(_down())
    # The server is gone now; the gateway restarts against the dead address.
    async with gateway(tmp_path, url, Clock()) as gate:
        assert cli(gate.store, "approve", pid) == 0
        await until("failed", lambda: "failed" in gate.steps(pid))
        failed = [r for r in gate.records() if r["decision"] == "failed"]
        assert failed[-1]["reasons"] == ["upstream_unavailable"]
    assert world.tag_names(1) == {"agent-visible", "inbox"}


def _down() -> Any:
    from .fake_paperless_server import Reply

    return Reply(503, b"down", "text/html")


async def test_pending_proposals_survive_a_restart(tmp_path: Path, world: World) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, add_tags=["ai/invoice"]))["proposal_id"]
        # Decided while the gateway is down: carried out on the next start.
        assert cli(tmp_path / "proposals.db", "approve", pid) == 0
        assert world.writes() == []
        async with gateway(tmp_path, url, Clock()) as gate:
            await until("applied", lambda: "applied" in gate.steps(pid))
            assert world.tag_names(1) == {"agent-visible", "inbox", "ai/invoice"}


async def test_expired_proposals_are_never_applied(tmp_path: Path, world: World) -> None:
    clock = Clock()
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, clock) as gate:
            pid = (await propose(gate, add_tags=["ai/invoice"]))["proposal_id"]
            clock.advance(3600)
            await until("expired", lambda: "expired" in gate.steps(pid))
            assert cli(gate.store, "approve", pid) == 1  # not pending any more
            r = await gate.rest("documents_proposal_status", {"proposal_id": pid})
            assert r.json()["result"]["status"] == "expired"
            assert world.writes() == []
            assert gate.steps(pid) == ["proposed", "expired"]


async def test_the_daily_quota_holds(tmp_path: Path, world: World) -> None:
    write_policies(tmp_path, quota=2)
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            await propose(gate, add_tags=["ai/invoice"])
            await propose(gate, add_tags=["ai/astro"])
            r = await gate.rest(
                "documents_propose_metadata",
                {"document_id": 1, "add_tags": ["ai/invoice"], "reason": "again"},
            )
            assert r.status_code == 429
            assert len([r for r in gate.records() if r["decision"] == "proposed"]) == 2


async def test_propose_through_mcp(tmp_path: Path, world: World) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            args = {"document_id": 1, "add_tags": ["ai/astro"], "reason": "m31"}
            result = await gate.mcp_call("documents_propose_metadata", args)
            assert result.get("isError") is not True, result
            pid = result["structuredContent"]["result"]["proposal_id"]
            assert world.writes() == []
            assert cli(gate.store, "approve", pid) == 0
            await until("applied", lambda: "applied" in gate.steps(pid))
            assert "ai/astro" in world.tag_names(1)


@pytest.mark.parametrize(
    ("user", "doc", "body", "status"),
    [
        ("hermes", 1, {"title": "x"}, 403),  # the read token may not change documents
        ("alice", 3, {"title": "x"}, 403),  # may view, may not change (owned by admin)
        ("alice", 1, {"tags": [999]}, 400),  # unknown tag id
        ("alice", 1, {"title": "x" * 129}, 400),
        ("alice", 99, {"title": "x"}, 404),
        ("alice", 1, {"title": "New"}, 200),
        ("admin", 3, {"title": "New"}, 200),
    ],
)
def test_fake_write_endpoint_permissions(
    world: World, user: str, doc: int, body: dict[str, Any], status: int
) -> None:
    import httpx

    with serve(world.fake) as url:
        headers = {
            "Authorization": f"Token {TOKENS[user]}",
            "Accept": "application/json; version=9",
        }
        r = httpx.patch(f"{url}/api/documents/{doc}/", json=body, headers=headers)
        assert r.status_code == status, r.text
        if status == 200:
            assert r.json()["title"] == "New" == world.doc(doc)["title"]
        else:
            assert world.doc(doc)["title"] != "x" if doc != 99 else True


def test_fake_bulk_edit_modify_tags(world: World) -> None:
    import httpx

    with serve(world.fake) as url:
        body = {
            "documents": [1],
            "method": "modify_tags",
            "parameters": {
                "add_tags": [world.ids["ai/astro"]],
                "remove_tags": [world.ids["inbox"]],
            },
        }
        hermes = {"Authorization": f"Token {TOKENS['hermes']}"}
        assert (
            httpx.post(f"{url}/api/documents/bulk_edit/", json=body, headers=hermes).status_code
            == 403
        )
        alice = {"Authorization": f"Token {TOKENS['alice']}"}
        r = httpx.post(f"{url}/api/documents/bulk_edit/", json=body, headers=alice)
        assert r.status_code == 200 and r.json() == {"result": "OK"}
        assert world.tag_names(1) == {"agent-visible", "ai/astro"}


def test_the_write_tool_is_not_announced_as_read_only() -> None:
    from capabilities.documents import CAPABILITY
    from gateway.api.export import export_tool

    write, read = CAPABILITY.tool("documents_propose_metadata"), CAPABILITY.tool("documents_get")
    assert write is not None and read is not None and write.proposes and not read.proposes
    hints = export_tool(write, "mcp")["annotations"]
    assert hints["readOnlyHint"] is False and hints["idempotentHint"] is False
    assert export_tool(read, "mcp")["annotations"]["readOnlyHint"] is True


async def test_the_kill_switch_stops_an_approved_write(tmp_path: Path, world: World) -> None:
    with serve(world.fake) as url:
        async with gateway(tmp_path, url, Clock()) as gate:
            pid = (await propose(gate, add_tags=["ai/invoice"]))["proposal_id"]
            switch = tmp_path / "policies" / "gateway.yaml"
            switch.write_text(switch.read_text().replace("kill_switch: false", "kill_switch: true"))
            await reload(gate, tmp_path)
            assert cli(gate.store, "approve", pid) == 0
            await until("failed", lambda: "failed" in gate.steps(pid))
            failed = [r for r in gate.records() if r["decision"] == "failed"]
            assert failed[0]["reasons"] == ["policy-denies"]
            assert world.writes() == []
