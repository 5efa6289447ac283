"""Forged and invalid bearer credentials, each with the AuthError reason it must produce.

    cases = forged_tokens(ForgeContext(issuer=..., audience=..., client_id="hermes",
                                       signing_key=<the issuer's real private key, with kid>,
                                       retired_key=<a real key rotated away, or None>))
    for case in cases:  # case.authorization_header is None: send no Authorization header
        ...             # expect 401 and AuthError(case.reason)

The real key makes the claim cases meaningful: those tokens carry a valid signature, so only
the claim check can stop them. The verifier under test must be configured with ``issuer``,
``audience``, ``allowed_clients`` containing ``client_id``, ``algorithms`` and
``max_token_bytes`` as given in the context.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, RSAKey

__all__ = ["ForgeContext", "ForgedCase", "control_token", "forged_tokens", "sign"]


@dataclass(frozen=True)
class ForgeContext:
    issuer: str
    audience: str
    client_id: str
    signing_key: RSAKey | ECKey
    retired_key: RSAKey | ECKey | None = None
    algorithms: Sequence[str] = ("RS256", "ES256")
    #: False when the verifier has no ``allowed_clients`` list (then ``wrong-azp`` is left out).
    client_allow_list: bool = True
    max_token_bytes: int = 8192
    now: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ForgedCase:
    name: str
    #: The whole ``Authorization`` header value; ``None``: no header at all.
    authorization_header: str | None
    reason: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _raw_signature(alg: str, key: RSAKey | ECKey | bytes, data: bytes) -> bytes:
    if isinstance(key, bytes):
        return hmac.new(key, data, hashlib.sha256).digest()
    if isinstance(key, RSAKey):
        return key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    der = key.private_key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign(header: dict[str, Any], claims: dict[str, Any], key: RSAKey | ECKey | bytes) -> str:
    """A compact JWS over exactly this header (no library checks: forging is the point)."""
    signing_input = f"{_json(header)}.{_json(claims)}"
    signature = _raw_signature(str(header.get("alg")), key, signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


def _alg_of(key: RSAKey | ECKey) -> str:
    return "RS256" if isinstance(key, RSAKey) else "ES256"


def control_token(ctx: ForgeContext, **claim_changes: Any) -> str:
    """A token built like the forged ones but valid: it must be accepted (the control case)."""
    now = int(ctx.now)
    claims = {
        "iss": ctx.issuer,
        "sub": "forged-subject",
        "aud": ctx.audience,
        "azp": ctx.client_id,
        "iat": now,
        "exp": now + 600,
        "uid": uuid.uuid4().hex,
        "groups": ["agents"],
        **claim_changes,
    }
    header = {"alg": _alg_of(ctx.signing_key), "kid": ctx.signing_key.kid or "", "typ": "JWT"}
    return sign(header, claims, ctx.signing_key)


def forged_tokens(ctx: ForgeContext) -> list[ForgedCase]:
    now = int(ctx.now)
    real = ctx.signing_key
    alg = _alg_of(real)
    kid = real.kid or ""

    def claims(**changes: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "iss": ctx.issuer,
            "sub": "forged-subject",
            "aud": ctx.audience,
            "azp": ctx.client_id,
            "iat": now,
            "exp": now + 600,
            "uid": uuid.uuid4().hex,
            "groups": ["agents", "admins"],
        }
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def real_signed(header_changes: dict[str, Any] | None = None, **claim_changes: Any) -> str:
        header = {"alg": alg, "kid": kid, "typ": "JWT", **(header_changes or {})}
        return sign(header, claims(**claim_changes), real)

    attacker = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    attacker_ec = ECKey.generate_key("P-256", parameters={"kid": "attacker-ec"})
    public_pem = real.as_pem(private=False)
    public_jwk = json.dumps(real.as_dict(private=False)).encode()
    good = real_signed()
    head, body, sig = good.split(".")
    other_alg = "ES256" if alg == "RS256" else "RS256"
    other_key: RSAKey | ECKey = attacker_ec if other_alg == "ES256" else attacker
    unsigned = f"{_json({'alg': 'none', 'typ': 'JWT'})}.{_json(claims())}"

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    cases = [
        ForgedCase("no-authorization-header", None, "missing-token"),
        ForgedCase("empty-header", "", "missing-token"),
        ForgedCase("bearer-without-token", "Bearer", "missing-token"),
        ForgedCase("bearer-and-blank", "Bearer    ", "missing-token"),
        ForgedCase("basic-scheme", "Basic aGVybWVzOnNlY3JldA==", "missing-token"),
        ForgedCase("token-without-scheme", good, "missing-token"),
        ForgedCase("scheme-glued-to-token", "Bearer" + good, "missing-token"),
        ForgedCase("duplicate-scheme", "Bearer Bearer " + good, "malformed-token"),
        ForgedCase("two-tokens", f"Bearer {good} {good}", "malformed-token"),
        ForgedCase("alg-none", bearer(unsigned + "."), "alg-not-allowed"),
        ForgedCase("alg-none-with-signature", bearer(f"{unsigned}.{sig}"), "alg-not-allowed"),
        ForgedCase(
            "alg-None-capitalised",
            bearer(f"{_json({'alg': 'None'})}.{_json(claims())}."),
            "alg-not-allowed",
        ),
        ForgedCase(
            "hs256-with-public-key-pem",
            bearer(sign({"alg": "HS256", "kid": kid}, claims(), public_pem)),
            "alg-not-allowed",
        ),
        ForgedCase(
            "hs256-with-public-jwk",
            bearer(sign({"alg": "HS256", "kid": kid}, claims(), public_jwk)),
            "alg-not-allowed",
        ),
        ForgedCase(
            "unknown-kid",
            bearer(sign({"alg": "RS256", "kid": "no-such-key"}, claims(), attacker)),
            "unknown-key" if "RS256" in ctx.algorithms else "alg-not-allowed",
        ),
        ForgedCase(
            "kid-path-traversal",
            bearer(real_signed({"kid": "../../../../../../dev/null"})),
            "unknown-key",
        ),
        ForgedCase(
            "kid-sql-injection", bearer(real_signed({"kid": "x' OR '1'='1"})), "unknown-key"
        ),
        ForgedCase(
            "kid-not-a-string", bearer(real_signed({"kid": {"$ne": ""}})), "malformed-token"
        ),
        ForgedCase(
            "jku-header",
            bearer(real_signed({"jku": "https://attacker.example/jwks.json"})),
            "forbidden-header",
        ),
        ForgedCase(
            "x5u-header",
            bearer(real_signed({"x5u": "https://attacker.example/cert.pem"})),
            "forbidden-header",
        ),
        ForgedCase(
            "embedded-jwk",
            bearer(
                sign(
                    {"alg": "RS256", "kid": "attacker", "jwk": dict(attacker.as_dict())},
                    claims(),
                    attacker,
                )
            ),
            "forbidden-header" if "RS256" in ctx.algorithms else "alg-not-allowed",
        ),
        ForgedCase(
            "x5c-header", bearer(real_signed({"x5c": ["MIIBIjANBg=="]})), "forbidden-header"
        ),
        ForgedCase("crit-header", bearer(real_signed({"crit": ["exp"]})), "forbidden-header"),
        ForgedCase(
            "other-key-type-for-kid",
            bearer(sign({"alg": other_alg, "kid": kid}, claims(), other_key)),
            "key-mismatch" if other_alg in ctx.algorithms else "alg-not-allowed",
        ),
        ForgedCase(
            "issuer-without-trailing-slash",
            bearer(real_signed(iss=ctx.issuer.rstrip("/"))),
            "bad-issuer",
        ),
        ForgedCase("issuer-as-list", bearer(real_signed(iss=[ctx.issuer])), "bad-issuer"),
        ForgedCase("missing-issuer", bearer(real_signed(iss=None)), "missing-claim"),
        ForgedCase("wrong-audience", bearer(real_signed(aud="some-other-api")), "bad-audience"),
        ForgedCase("missing-audience", bearer(real_signed(aud=None)), "missing-claim"),
        ForgedCase(
            "azp-and-client-id-differ",
            bearer(real_signed(client_id="evil-client")),
            "bad-client",
        ),
        ForgedCase("expired", bearer(real_signed(iat=now - 7200, exp=now - 3600)), "expired"),
        ForgedCase("nbf-in-future", bearer(real_signed(nbf=now + 3600)), "not-yet-valid"),
        ForgedCase("iat-in-future", bearer(real_signed(iat=now + 3600)), "not-yet-valid"),
        ForgedCase("missing-exp", bearer(real_signed(exp=None)), "missing-claim"),
        ForgedCase("exp-as-string", bearer(real_signed(exp=str(now + 600))), "malformed-claim"),
        ForgedCase("exp-infinite", bearer(real_signed(exp=float("inf"))), "malformed-claim"),
        ForgedCase("missing-sub", bearer(real_signed(sub=None)), "missing-claim"),
        ForgedCase(
            "groups-not-a-list",
            bearer(real_signed(groups={"admins": True})),
            "malformed-claim",
        ),
        ForgedCase(
            "oversized",
            bearer(real_signed(padding="A" * ctx.max_token_bytes)),
            "token-too-large",
        ),
        ForgedCase("garbage-segments", "Bearer abc.def.ghi", "malformed-token"),
        ForgedCase("two-segments", bearer(f"{head}.{body}"), "malformed-token"),
        ForgedCase(
            "jwe-five-segments", bearer(f"{head}.{body}.{sig}.{body}.{sig}"), "malformed-token"
        ),
        ForgedCase("padded-segments", bearer(f"{head}==.{body}.{sig}"), "malformed-token"),
        ForgedCase(
            "duplicate-alg-member",
            bearer(_b64(b'{"alg":"' + alg.encode() + b'","alg":"none"}') + f".{body}.{sig}"),
            "malformed-token",
        ),
        ForgedCase(
            "signature-of-another-key",
            bearer(sign({"alg": "RS256", "kid": kid}, claims(), attacker))
            if alg == "RS256"
            else bearer(sign({"alg": "ES256", "kid": kid}, claims(), attacker_ec)),
            "bad-signature",
        ),
        ForgedCase(
            "tampered-payload",
            bearer(f"{head}.{_json(claims(sub='someone-else'))}.{sig}"),
            "bad-signature",
        ),
        ForgedCase("signature-stripped", bearer(f"{head}.{body}."), "malformed-token"),
    ]
    if ctx.client_allow_list:
        cases.append(ForgedCase("wrong-azp", bearer(real_signed(azp="evil-client")), "bad-client"))
    if ctx.retired_key is not None:
        retired = ctx.retired_key
        header = {"alg": _alg_of(retired), "kid": retired.kid or "", "typ": "JWT"}
        cases.append(
            ForgedCase("key-rotated-away", bearer(sign(header, claims(), retired)), "unknown-key")
        )
    return cases
