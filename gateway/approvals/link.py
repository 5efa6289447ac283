"""The approvals room: posts proposals and notices, and reads verdicts with a ``/sync`` loop.

The sync position is kept in the proposal store after each batch is handled, so verdicts
given while labgate was down are read on the next start; a batch read again (a crash between
handling and saving the position) changes nothing, since each event is handled once.
An end-to-end encrypted room is refused: labgate logs why and stops reading and posting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.approvals.codes import Ignored
from gateway.approvals.desk import MATRIX_VIA, ProposalDesk, Verdict
from gateway.approvals.events import read_event
from gateway.approvals.matrix import (
    EncryptedRoom,
    MatrixClient,
    MatrixError,
    RoomEvent,
    TokenRejected,
)
from gateway.approvals.render import notice
from gateway.approvals.settings import MatrixSettings

__all__ = ["ENCRYPTED_MESSAGE", "MatrixLink"]

log = logging.getLogger("labgate.approvals.matrix")

SINCE_KEY = "matrix.since"
ENCRYPTED_MESSAGE = (
    "the approvals room {room} is end-to-end encrypted; labgate cannot take approvals there. "
    "Use a room without encryption (encryption cannot be turned off in a room: create a new "
    "one), see docs/approvals.md"
)


class MatrixLink:
    def __init__(self, client: MatrixClient, settings: MatrixSettings, desk: ProposalDesk) -> None:
        self.client = client
        self.settings = settings
        self.desk = desk
        self.user_id: str | None = None
        #: "starting", "ready", "refused" (encrypted room) or "unreachable".
        self.state = "starting"
        self.ready = asyncio.Event()

    async def prepare(self) -> None:
        """Who labgate is, and whether the room may be used; raises EncryptedRoom."""
        self.user_id = await self.client.whoami()
        try:
            await self.client.prepare_room()
        except EncryptedRoom:
            self.state = "refused"
            raise
        self.state = "ready"

    async def post(self, content: dict[str, Any], txn_id: str) -> str:
        if self.state != "ready":
            raise MatrixError(f"the approvals room is not usable ({self.state})")
        return await self.client.send(content, txn_id)

    async def notify(self, text: str, txn_id: str) -> None:
        """An operator notice; best effort (logged when it cannot be posted)."""
        if not self.settings.notices:
            return
        try:
            await self.post(notice(text), txn_id)
        except Exception as exc:
            log.warning("operator notice not posted (%s): %s", type(exc).__name__, text)

    async def run(self) -> None:
        """Prepare (retrying while Matrix is away), then sync until cancelled."""
        while self.state != "ready":
            try:
                await self.prepare()
            except EncryptedRoom:
                log.error(ENCRYPTED_MESSAGE.format(room=self.settings.room_id))
                return
            except TokenRejected:
                self.state = "unreachable"
                log.error("the homeserver rejects labgate's access token; retrying")
            except Exception as exc:
                self.state = "unreachable"
                log.warning("approvals room not reachable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self.settings.retry_seconds)
        self.ready.set()
        self.desk.wake.set()
        while self.state == "ready":
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except TokenRejected:
                log.error("the homeserver rejects labgate's access token; retrying")
                await asyncio.sleep(self.settings.retry_seconds)
            except Exception as exc:
                log.warning("approvals room sync failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self.settings.retry_seconds)

    async def sync_once(self) -> None:
        since = await asyncio.to_thread(self.desk.store.get_value, SINCE_KEY)
        batch = await self.client.sync(since, self.settings.sync_timeout_seconds)
        for event in batch.events:
            await self.handle(event)
            if self.state != "ready":
                return
        await asyncio.to_thread(self.desk.store.set_value, SINCE_KEY, batch.next_batch)

    async def handle(self, event: RoomEvent) -> None:
        signal = read_event(event, self.user_id)
        if signal is None:
            return
        if signal.kind == "encryption":
            if event.room_id == self.settings.room_id:
                self.state = "refused"
                log.error(ENCRYPTED_MESSAGE.format(room=self.settings.room_id))
            return
        verdict = Verdict(
            verdict=signal.verdict or "",
            actor=event.sender,
            via=MATRIX_VIA,
            proposal_id=signal.proposal_id,
            target_event=signal.target_event,
            event_id=event.event_id,
            room_id=event.room_id,
        )
        if signal.kind == "edit":
            await self.desk.ignore_event(verdict, Ignored.EDIT_IGNORED)
            return
        await self.desk.decide(verdict)
