"""The ``approvals`` section of the gateway settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ApprovalsSettings", "MatrixSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatrixSettings(_Strict):
    """The Matrix room where proposals are posted and decided.

    labgate's own account is the upstream named ``upstream`` (``auth: {scheme: bearer,
    secret_file: ...}`` holding its access token); its ``read_timeout`` and ``total_timeout``
    must exceed ``sync_timeout_seconds``.
    """

    #: The ``upstreams`` entry of the homeserver, whose bearer token is labgate's account.
    upstream: str = Field("matrix", min_length=1, max_length=40)
    #: The room id (``!abc:lab.example``; room version 12: ``!abc``), not an alias; it must
    #: not be end-to-end encrypted.
    room_id: str = Field(pattern=r"^![^:\s]+(:[A-Za-z0-9.-]+(:\d{1,5})?)?$", max_length=255)
    #: Long-poll time of one ``/sync`` request.
    sync_timeout_seconds: float = Field(20.0, ge=0, le=120)
    #: Wait after a failed request before the next attempt.
    retry_seconds: float = Field(5.0, gt=0, le=600)
    #: Post operator notices (kill switch engaged, policy reload failed) to the room.
    notices: bool = True


class ApprovalsSettings(_Strict):
    #: The proposal store (SQLite); default: ``proposals.db`` beside ``journal_path``.
    store_path: Path | None = None
    #: Where humans approve; without it, only ``labgate approvals approve|deny`` decides.
    matrix: MatrixSettings | None = None
    #: How often expired proposals are closed and operator decisions are picked up.
    poll_seconds: float = Field(2.0, gt=0, le=300)
