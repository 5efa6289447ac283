"""Every code a ``labgate doctor`` finding can carry: one catalog, documented from here."""

from __future__ import annotations

__all__ = ["CODES"]

#: code -> what it means for the operator. docs/operator.md's table is generated from this.
CODES: dict[str, str] = {
    "ok": "The check passed.",
    "config-invalid": "gateway.yaml or the environment does not validate; nothing else ran.",
    "secret-unreadable": "A secret file is missing, unreadable or empty (never shown).",
    "policy-invalid": "The policy directory does not load; the gateway would not start.",
    "capability-off": "No policy file for this capability: its tools are off.",
    "not-configured": "A capability names an upstream that has no `upstreams` entry.",
    "unreachable": "No answer: connection refused, DNS, TLS, or timeout.",
    "credentials-rejected": "The upstream answered 401/403 to labgate's credentials.",
    "unexpected-version": "The upstream answered, but is not a version labgate knows.",
    "unexpected-shape": "The upstream answered something labgate cannot read.",
    "issuer-mismatch": "Discovery names another issuer (byte for byte, slash included).",
    "jwks-empty": "The JWKS holds no RSA/EC signing key fit for the configured algorithms.",
    "client-refused": "A policy names a client that `auth` refuses: that rule can never match.",
    "client-unused": "`auth` accepts a client that no policy rule names: it gets no tools.",
    "audience-not-client": "No audience is a client the policies name (Authentik: aud = client).",
    "dev-mode": "Dev tokens (demo only): not for a deployment.",
    "name-unknown": "A scope name matches nothing upstream (documents: calls fail closed).",
    "name-ambiguous": (
        "An included scope name (e.g. `tags_all`, `correspondents`) matches several upstream "
        "objects: calls fail closed; name one with `{id: N}`. An exclusion takes every match."
    ),
    "glob-empty": "A scope glob matches nothing upstream today.",
    "scope-unchecked": "The configured sources cannot state this fact: the key matches nothing.",
    "pin-changed": (
        "A fronted MCP server's tool differs from its pin: withdrawn until "
        "`labgate mcp-upstream accept` (see capabilities/mcp_upstream)."
    ),
    "pin-missing": "A fronted MCP server no longer lists a pinned tool: it is withdrawn.",
    "pin-unaccepted": "A fronted MCP server lists tools nobody accepted: they stay off.",
}
