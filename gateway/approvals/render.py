"""The messages labgate posts to the approvals room: a proposal as a readable diff, results,
operator notices. Upstream and agent text is escaped and shown as quoted, untrusted data."""

from __future__ import annotations

import html
from typing import Any

from gateway.approvals.store import ProposalRow

__all__ = ["notice", "proposal_message", "result_message"]

MAX_TEXT = 500


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split()) if "\n" not in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain_quote(text: str) -> str:
    return "\n".join("> " + line for line in _cut(text, 1000).splitlines() or [""])


def proposal_message(row: ProposalRow) -> dict[str, Any]:
    """``m.room.message`` content for a new proposal."""
    expires = row.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    who = row.principal.get("client_id") or row.principal.get("sub") or "?"
    head = f"labgate proposal {row.id}: {row.target} «{_cut(row.title, 200)}»"
    lines = [head, f"proposed by {who} with {row.tool} (rule {row.rule_id})"]
    lines += [f"  {c.field}: {_cut(c.current, 200)} → {_cut(c.proposed, 200)}" for c in row.changes]
    lines += [
        "The agent's reason (untrusted text, quoted as given):",
        _plain_quote(row.reason),
        f'Approve: react ✅ or reply "approve". Deny: react ❌ or reply "deny". Expires {expires}.',
    ]
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c.field)}</td><td>{e(_cut(c.current, 200))}</td>"
        f"<td>{e(_cut(c.proposed, 200))}</td></tr>"
        for c in row.changes
    )
    formatted = (
        f"<p><b>labgate proposal <code>{e(row.id)}</code></b>: {e(row.target)} "
        f"«{e(_cut(row.title, 200))}»<br>proposed by <code>{e(str(who))}</code> with "
        f"<code>{e(row.tool)}</code> (rule <code>{e(row.rule_id)}</code>)</p>"
        f"<table><tr><th>field</th><th>current</th><th>proposed</th></tr>{rows}</table>"
        f"<p>The agent's reason (untrusted text, quoted as given):</p>"
        f"<blockquote><pre>{e(_cut(row.reason, 1000))}</pre></blockquote>"
        f"<p>Approve: react ✅ or reply <code>approve</code>. Deny: react ❌ or reply "
        f"<code>deny</code>. Expires {e(expires)}.</p>"
    )
    return {
        "msgtype": "m.text",
        "body": "\n".join(lines),
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
        "dev.labgate.proposal": row.id,
    }


def result_message(row: ProposalRow, event: str, detail: str = "") -> dict[str, Any]:
    """A notice in reply to the proposal post: approved, denied, applied, failed, expired."""
    text = f"labgate proposal {row.id}: {event}" + (f" ({_cut(detail, 200)})" if detail else "")
    content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
    if row.posted_event:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": row.posted_event}}
    return content


def notice(text: str) -> dict[str, Any]:
    return {"msgtype": "m.notice", "body": f"labgate: {_cut(text)}"}
