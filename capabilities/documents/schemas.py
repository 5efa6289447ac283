"""Config, policy scope, tool arguments and tool outputs of the documents capability.

Everything the agent or the operator writes is validated here (``extra="forbid"``); what
paperless answers is parsed separately, in ``wire.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.capability import UntrustedText

__all__ = [
    "ById",
    "ChangeLine",
    "Document",
    "DocumentsConfig",
    "DocumentsScope",
    "GetArgs",
    "ListTagsArgs",
    "ProposalStatus",
    "ProposalTicket",
    "ProposeArgs",
    "ProposeBounds",
    "SearchArgs",
    "SearchHit",
    "SearchResult",
    "StatusArgs",
    "TagItem",
    "TagList",
]

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)
Name = Annotated[str, Field(min_length=1, max_length=128)]


class ById(BaseModel):
    """A scope entry naming one paperless object by id (``{id: 7}``), for same-named twins."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(strict=True, ge=1, le=2_147_483_647)


#: Scope entries: a name (every object carrying it, case-insensitively) or ``{id: N}``.
Entry = Name | ById
Names = Annotated[list[Entry], Field(max_length=50)]


class DocumentsConfig(BaseModel):
    """The ``documents`` section of the gateway settings."""

    model_config = ConfigDict(extra="forbid")

    upstream: str = Field(
        "paperless", min_length=1, max_length=64, description="Name of the upstream entry."
    )
    max_content_chars: int = Field(
        4000, ge=100, le=45000, description="Ceiling on text returned by documents_get."
    )
    snippet_chars: int = Field(300, ge=40, le=1000, description="Ceiling on one search snippet.")
    max_query_words: int = Field(10, ge=1, le=32, description="Words allowed in one query.")
    name_cache_ttl_seconds: int = Field(
        300, ge=0, le=86400, description="How long tag/correspondent/type ids are cached."
    )
    require_scope: bool = Field(
        True, description="Refuse calls whose matching policy rule sets no scope."
    )
    write_upstream: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Upstream entry holding the token that may change documents, used only "
        "to apply approved proposals; must differ from upstream. Unset: no proposal applies.",
    )

    @model_validator(mode="after")
    def _separate_tokens(self) -> DocumentsConfig:
        if self.write_upstream is not None and self.write_upstream == self.upstream:
            raise ValueError("write_upstream must be its own upstream entry, not the read one")
        return self


Glob = Annotated[str, Field(min_length=1, max_length=128)]
Field_ = Literal["title", "correspondent", "document_type"]


class ProposeBounds(BaseModel):
    """What documents_propose_metadata may propose under a rule (scope key ``propose``)."""

    model_config = ConfigDict(extra="forbid")

    add_tags: list[Glob] = Field(
        default_factory=list,
        max_length=50,
        description="Tags the agent may add: names or globs (ai/*), case-insensitive.",
    )
    remove_tags: list[Glob] = Field(
        default_factory=list,
        max_length=50,
        description="Tags the agent may remove (names or globs); empty: none.",
    )
    fields: list[Field_] = Field(
        default_factory=list, description="Fields the agent may set besides tags."
    )


class DocumentsScope(BaseModel):
    """The policy ``scope`` block: the slice of the archive a rule opens.

    Names are resolved to ids through the paperless API; a name that cannot be resolved
    makes every call fail closed, and so does an inclusion name that several objects carry
    (names are unique upstream only per owner): name the one meant as ``{id: N}`` instead.
    An empty scope opens everything the gateway's own paperless user can see.
    """

    model_config = ConfigDict(extra="forbid")

    tags_all: Names = Field(default_factory=list, description="Documents must carry all of these.")
    tags_any: Names = Field(
        default_factory=list, description="Documents must carry at least one of these."
    )
    tags_none: Names = Field(
        default_factory=list, description="Documents must carry none of these."
    )
    correspondents: Names | None = Field(
        None, description="Allow-list of correspondent names; unset: any (or none)."
    )
    document_types: Names | None = Field(
        None, description="Allow-list of document type names; unset: any (or none)."
    )
    created_from: dt.date | None = Field(None, description="Earliest creation date (inclusive).")
    created_to: dt.date | None = Field(None, description="Latest creation date (inclusive).")
    max_content_chars: int | None = Field(
        None, ge=0, le=45000, description="Ceiling on text returned by documents_get."
    )
    propose: ProposeBounds | None = Field(
        None, description="What documents_propose_metadata may propose; unset: nothing."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DocumentsScope:
        if _keys(self.tags_all) & _keys(self.tags_none):
            raise ValueError("a tag cannot be both required (tags_all) and forbidden (tags_none)")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from is after created_to")
        return self


def _keys(entries: list[Entry]) -> set[str | int]:
    return {e.id if isinstance(e, ById) else e.casefold() for e in entries}


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1,
        max_length=200,
        description="Plain words to look for in titles and text; all must match. "
        "Query syntax (field:value, quotes, wildcards, AND/OR) is ignored.",
    )
    tags: list[Name] = Field(
        default_factory=list,
        max_length=5,
        description="Only documents carrying all these tags (names from documents_list_tags).",
    )
    correspondent: Name | None = Field(None, description="Only documents from this correspondent.")
    document_type: Name | None = Field(None, description="Only documents of this type.")
    created_after: dt.date | None = Field(
        None,
        ge=MIN_DATE,
        le=MAX_DATE,
        description="Only documents created after this date (YYYY-MM-DD).",
    )
    created_before: dt.date | None = Field(
        None,
        ge=MIN_DATE,
        le=MAX_DATE,
        description="Only documents created before this date (YYYY-MM-DD).",
    )
    page_size: int = Field(10, ge=1, le=25, description="Hits per page.")
    cursor: str | None = Field(
        None,
        min_length=1,
        max_length=400,
        description="next_cursor of a previous call with the same arguments, for the next page.",
    )


class GetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: int = Field(
        strict=True, ge=1, le=2_147_483_647, description="Id of a document from a search."
    )


class ListTagsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(description="Document id, for documents_get.")
    title: UntrustedText
    created: dt.date
    correspondent: UntrustedText | None = None
    document_type: UntrustedText | None = None
    tags: list[UntrustedText] = Field(default_factory=list)
    snippet: UntrustedText = Field(
        "", description="Plain text from just before the first match, within the readable text."
    )
    score: float = Field(ge=0, le=1, description="Relevance relative to the best hit (1.0).")
    rank: int = Field(ge=1, description="1-based position in the whole result list.")


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[SearchHit]
    next_cursor: str | None = None
    partial: bool = Field(
        False, description="True when more than 200 documents matched and only 200 were ranked."
    )


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    title: UntrustedText
    created: dt.date
    correspondent: UntrustedText | None = None
    document_type: UntrustedText | None = None
    tags: list[UntrustedText] = Field(default_factory=list)
    page_count: int | None = None
    mime_type: str | None = None
    content: UntrustedText = Field(description="Extracted text, truncated to the policy's limit.")
    content_chars: int = Field(ge=0, description="Length of the full text in characters.")
    content_truncated: bool = False


class TagItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: UntrustedText


class TagList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TagItem]


ProposalId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class ProposeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: int = Field(
        strict=True, ge=1, le=2_147_483_647, description="Id of a document from a search."
    )
    add_tags: list[Name] = Field(
        default_factory=list, max_length=10, description="Existing tag names to add."
    )
    remove_tags: list[Name] = Field(
        default_factory=list, max_length=10, description="Tag names to remove."
    )
    title: str | None = Field(None, min_length=1, max_length=128, description="A new title.")
    correspondent: Name | None = Field(None, description="An existing correspondent's name.")
    document_type: Name | None = Field(None, description="An existing document type's name.")
    reason: str = Field(
        min_length=1,
        max_length=1000,
        description="Why, for the human who approves (shown to them as quoted text).",
    )


class ProposalTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: str = Field(description="For documents_proposal_status.")
    status: Literal["pending"] = "pending"
    expires_at: dt.datetime = Field(description="Nothing is applied after this time.")


class StatusArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: ProposalId = Field(description="The id documents_propose_metadata answered.")


class ChangeLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    current: UntrustedText
    proposed: UntrustedText


class ProposalStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: str
    status: Literal["pending", "approved", "applied", "failed", "denied", "expired"] = Field(
        description="pending, approved (being applied), applied, failed, denied or expired."
    )
    document_id: int
    changes: list[ChangeLine] = Field(description="What was proposed.")
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None = None
    applied: list[ChangeLine] | None = Field(None, description="What was written, once applied.")
    error: str | None = Field(None, description="Why it failed (a stable code).")
