"""Forward auth: an Authentik proxy outpost has authenticated the caller and says who it is.

The ``X-authentik-*`` headers are believed only when the TCP peer (``client_host``, the socket
address, never ``X-Forwarded-For``) is one of ``trusted_proxies``. From any other address the
request is refused outright, even if it carries no such header, so a misrouted request never
falls through to another authentication path.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv6Address, ip_address

from gateway.auth.principal import MAX_LIST_ITEMS
from gateway.auth.reasons import AuthReason, fail
from gateway.auth.settings import ForwardAuthSettings
from gateway.capability import Principal

__all__ = ["FORWARD_AUTH_ISSUER", "ForwardAuthAuthenticator"]

#: ``Principal.issuer`` of forward-auth principals.
FORWARD_AUTH_ISSUER = "forward-auth"
_MAX_HEADER_CHARS = 4096


def _header(headers: Mapping[str, str], name: str) -> str | None:
    getlist = getattr(headers, "getlist", None)
    if getlist is not None and len(getlist(name)) > 1:
        # Two values: one may have been sent by the client and passed through by the proxy.
        # Believe neither.
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} appears more than once")
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if value is None:
        return None
    if len(value) > _MAX_HEADER_CHARS:
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} too long")
    return value.strip()


def _split(value: str | None, name: str) -> tuple[str, ...]:
    if not value:
        return ()
    items = tuple(dict.fromkeys(p.strip() for p in value.split("|") if p.strip()))
    if len(items) > MAX_LIST_ITEMS:
        raise fail(AuthReason.MALFORMED_CLAIM, f"{name} has too many items")
    return items


class ForwardAuthAuthenticator:
    def __init__(self, settings: ForwardAuthSettings) -> None:
        self._settings = settings

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _trusted(self, client_host: str | None) -> bool:
        if client_host is None:
            return False
        try:
            address = ip_address(client_host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._settings.trusted_proxies)

    async def authenticate(self, headers: Mapping[str, str], client_host: str | None) -> Principal:
        if not self._trusted(client_host):
            raise fail(AuthReason.UNTRUSTED_PROXY)
        prefix = self._settings.header_prefix
        username = _header(headers, prefix + "username")
        if not username:
            raise fail(AuthReason.MISSING_CLAIM, "username header")
        uid = _header(headers, prefix + "uid")
        return Principal(
            sub=uid or username,
            client_id=self._settings.client_id,
            username=username,
            groups=_split(_header(headers, prefix + "groups"), "groups"),
            entitlements=_split(_header(headers, prefix + "entitlements"), "entitlements"),
            token_id=None,
            issuer=FORWARD_AUTH_ISSUER,
            scopes=(),
        )
