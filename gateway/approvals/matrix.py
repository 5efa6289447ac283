"""labgate's side of the Matrix client-server API, over the guarded upstream client.

Only what approvals need: who am I, is the room usable (joined, not end-to-end encrypted),
post a message, and ``/sync`` the one room. Answers become values or :class:`MatrixError`;
message text from Matrix is data, never instructions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "EncryptedRoom",
    "MatrixClient",
    "MatrixError",
    "RoomEvent",
    "SyncBatch",
    "TokenRejected",
]

API = "/_matrix/client/v3"
#: Pages of 100 events read back when a sync's timeline is limited (labgate was down long).
GAP_PAGES = 50


class MatrixError(Exception):
    """A request failed or answered something unexpected (for logs only)."""


class TokenRejected(MatrixError):
    """401: labgate's access token is wrong, expired or logged out."""


class EncryptedRoom(MatrixError):
    """The room is end-to-end encrypted: labgate cannot read reactions there, and refuses it."""


@dataclass(frozen=True, slots=True)
class RoomEvent:
    room_id: str
    event_id: str
    sender: str
    type: str
    content: dict[str, Any]
    state_key: str | None = None


@dataclass(slots=True)
class SyncBatch:
    next_batch: str
    events: list[RoomEvent] = field(default_factory=list)


def _room(room_id: str) -> str:
    return quote(room_id, safe="")


class MatrixClient:
    def __init__(self, http: httpx.AsyncClient, room_id: str) -> None:
        self._http = http
        self.room_id = room_id

    async def whoami(self) -> str:
        body = self._json(await self._http.get(f"{API}/account/whoami"))
        user = body.get("user_id")
        if not isinstance(user, str):
            raise MatrixError("whoami without user_id")
        return user

    async def prepare_room(self) -> None:
        """Join the room when invited; refuse it when it is end-to-end encrypted."""
        path = f"{API}/rooms/{_room(self.room_id)}/state/m.room.encryption/"
        response = await self._http.get(path)
        if response.status_code == 403:  # not (yet) a member: accept the invitation
            self._json(await self._http.post(f"{API}/join/{_room(self.room_id)}", json={}))
            response = await self._http.get(path)
        if response.status_code == 200:
            raise EncryptedRoom(f"room {self.room_id} is end-to-end encrypted")
        if response.status_code != 404:
            raise MatrixError(f"room state answered {response.status_code}")

    async def send(self, content: dict[str, Any], txn_id: str) -> str:
        """Post ``content`` as an ``m.room.message``; ``txn_id`` makes a retry idempotent."""
        path = f"{API}/rooms/{_room(self.room_id)}/send/m.room.message/{quote(txn_id, safe='')}"
        body = self._json(await self._http.put(path, json=content))
        event_id = body.get("event_id")
        if not isinstance(event_id, str):
            raise MatrixError("send without event_id")
        return event_id

    async def sync(self, since: str | None, timeout_seconds: float) -> SyncBatch:
        params = {
            "timeout": str(int(timeout_seconds * 1000)),
            "filter": json.dumps(
                {
                    "presence": {"not_types": ["*"]},
                    "account_data": {"not_types": ["*"]},
                    "room": {
                        "timeline": {"limit": 100},
                        "ephemeral": {"not_types": ["*"]},
                        "account_data": {"not_types": ["*"]},
                    },
                },
                separators=(",", ":"),
            ),
        }
        if since is not None:
            params["since"] = since
        body = self._json(await self._http.get(f"{API}/sync", params=params))
        next_batch = body.get("next_batch")
        if not isinstance(next_batch, str):
            raise MatrixError("sync without next_batch")
        batch = SyncBatch(next_batch)
        joined = body.get("rooms", {}).get("join", {})
        if not isinstance(joined, dict):
            raise MatrixError("sync with a malformed rooms.join")
        for room_id, room in joined.items():
            timeline = room.get("timeline", {})
            if room_id == self.room_id and since is not None and timeline.get("limited"):
                # More happened than one sync shows (labgate was down): read the gap too.
                gap = await self._gap(str(timeline.get("prev_batch") or ""), since)
                batch.events.extend(gap)
            for section in ("state", "timeline"):
                for raw in room.get(section, {}).get("events", []):
                    event = _event(room_id, raw)
                    if event is not None:
                        batch.events.append(event)
        return batch

    async def _gap(self, start: str, since: str) -> list[RoomEvent]:
        """The room's events between the last sync (``since``) and a limited timeline's
        start, oldest first, at most :data:`GAP_PAGES` pages of 100."""
        found: list[RoomEvent] = []
        token = start
        path = f"{API}/rooms/{_room(self.room_id)}/messages"
        for _ in range(GAP_PAGES):
            if not token:
                break
            params = {"from": token, "to": since, "dir": "b", "limit": "100"}
            body = self._json(await self._http.get(path, params=params))
            chunk = body.get("chunk") or []
            for raw in chunk if isinstance(chunk, list) else []:
                event = _event(self.room_id, raw)
                if event is not None:
                    found.append(event)
            end = body.get("end")
            if not chunk or not isinstance(end, str) or end == token:
                break
            token = end
        found.reverse()
        return found

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            errcode = ""
            try:
                errcode = str(response.json().get("errcode", ""))[:40]
            except ValueError:
                pass
            kind = TokenRejected if response.status_code == 401 else MatrixError
            raise kind(f"status {response.status_code} {errcode}".strip())
        try:
            body = response.json()
        except ValueError:
            raise MatrixError("answer is not JSON") from None
        if not isinstance(body, dict):
            raise MatrixError("answer is not an object")
        return body


def _event(room_id: str, raw: Any) -> RoomEvent | None:
    if not isinstance(raw, dict):
        return None
    event_id, sender, kind = raw.get("event_id"), raw.get("sender"), raw.get("type")
    content = raw.get("content")
    if not (isinstance(event_id, str) and isinstance(sender, str) and isinstance(kind, str)):
        return None
    if not isinstance(content, dict):
        content = {}
    state_key = raw.get("state_key")
    return RoomEvent(
        room_id, event_id, sender, kind, content, state_key if isinstance(state_key, str) else None
    )
