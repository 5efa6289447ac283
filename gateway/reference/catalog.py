# ruff: noqa: E501  (one line per code)
"""What each reason and error code means: the one place the docs' code tables come from.

Every policy reason and every authentication reason has exactly one entry here;
``tests/test_docs_generated.py`` fails on a missing or stale entry. Reason values are in
gateway/policy/reasons.py and gateway/auth/reasons.py. Error codes, their status, audit reason,
message and hint are the failure catalog in gateway/errors.py.
"""

from __future__ import annotations

__all__ = ["AUTH_REASONS", "POLICY_REASONS"]

POLICY_REASONS: dict[str, str] = {
    "allowed": "an allow rule matched and every bound held",
    "default-deny": "no allow rule matched",
    "deny-rule": "a deny rule matched (`rule_id` names it)",
    "arg-out-of-range": "an argument broke `min`, `max` or `max_length`",
    "arg-not-allowed": "an argument broke `one_of` or `pattern` (or had the wrong kind of value)",
    "outside-hours": "an allow rule matched except for its `when` window (comes with `default-deny`)",
    "kill-switch": "`gateway.yaml` has `kill_switch: true`",
    "maintenance": "`gateway.yaml` has maintenance enabled",
    "unknown-tool": "no capability has such a tool (agent sees `not permitted`)",
    "capability-off": "the capability has no policy file (agent sees `not permitted`)",
    "policy-error": "evaluation failed, or a policy reload was refused",
    "rate-limited": "a rule or global rate limit refused the call",
    "invalid-arguments": "the arguments do not match the tool's schema",
    "unauthenticated": "no valid token: `auth_failure` records (the second reason is the authentication reason)",
    "upstream-error": "allowed, then the service behind the tool gave an unusable answer (`decision: error`)",
    "upstream-timeout": "allowed, then the service behind the tool did not answer in time (`decision: error`)",
    "upstream-unavailable": "allowed, then the service behind the tool was unreachable or its breaker open (`decision: error`)",
    "result-too-large": "allowed, then the result was too large to return (`decision: error`)",
    "tool-timeout": "allowed, then the tool did not finish within `tool_timeout_seconds` (`decision: error`)",
    "not-found": "allowed, then the item did not exist or was outside the scope (`decision: error`)",
    "internal-error": "a labgate fault (the record's `notes.cause` names the exception class)",
}

AUTH_REASONS: dict[str, str] = {
    "missing-token": "no `Authorization` header, not the `Bearer` scheme, or an empty credential",
    "malformed-token": "not one token68, two headers, not a three-segment JWS (JWE included), bad base64url/JSON, duplicate members, odd `kid`",
    "token-too-large": "larger than `max_token_bytes`",
    "alg-not-allowed": "`alg` missing, `none`, or not in `algorithms`",
    "forbidden-header": "`jku`, `x5u`, `jwk`, `x5c`, `crit`, `b64`, `zip`, `enc` or `epk` in the header",
    "unknown-key": "no key with this `kid` (also after the allowed refetch), e.g. a key rotated away",
    "key-mismatch": "the `kid` names a key of another type than `alg` needs",
    "bad-signature": "the signature does not verify",
    "bad-issuer": "`iss` is not the configured issuer, byte for byte",
    "bad-audience": "no `aud` value is configured",
    "bad-client": "`azp`/`client_id` not allowed, or the two disagree",
    "expired": "`exp` passed (beyond the leeway)",
    "not-yet-valid": "`nbf` or `iat` in the future (beyond the leeway)",
    "missing-claim": "`iss`, `sub`, `exp`, `aud` (or the client, with `allowed_clients`) absent; forward-auth username absent",
    "malformed-claim": "a claim of the wrong type: non-numeric or non-finite `exp`, `groups` not a list of strings...; in forward-auth mode, an identity header that is too long or appears more than once",
    "missing-group": "not in any of `required_groups`",
    "revoked": "introspection says the token is not active",
    "introspection-unavailable": "the introspection endpoint could not give a usable answer",
    "issuer-unreachable": "no key set could be loaded from the issuer, or the last one outlived `jwks_max_age_seconds`",
    "untrusted-proxy": "forward-auth request from an address outside `trusted_proxies`",
    "rate-limited": "the client address spent its `auth.throttle` bucket: answered `429` before any token check",
}
