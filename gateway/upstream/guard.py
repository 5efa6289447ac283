"""Where an upstream request may go: the base URL's origin and path prefix, nothing else.

Two checks, both refusing before anything is sent:

* :func:`check_reference` looks at the URL text a capability passes to ``client.get(...)``
  *before* httpx merges it with the base URL (merging removes ``..`` and drops the host of
  ``//evil/``, hiding the attempt);
* :class:`Origin` checks the final request URL in the transport: scheme, host and port equal
  the base URL's, the path stays under the base path, no dot segment (plain or percent-encoded,
  also hidden behind an encoded slash), no backslash, no control character.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

import httpx

__all__ = ["Origin", "bad_segment", "check_reference"]

_DECODE_ROUNDS = 3  # catches %2e, %252e and %25252e


def bad_segment(segment: str) -> bool:
    """True when a raw path segment is, or decodes to, something a server may treat as a move."""
    decoded = segment
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(decoded)
    if "\\" in decoded or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        return True
    return any(part in (".", "..") for part in decoded.split("/"))


def _bad_path(raw_path: str) -> str | None:
    if any(bad_segment(s) for s in raw_path.split("/")):
        return "dot segment, backslash or control character in path"
    return None


def check_reference(url: httpx.URL | str) -> str | None:
    """Why the URL a capability asked for is refused, or ``None`` when it may be merged."""
    if isinstance(url, httpx.URL):
        return _bad_path(url.raw_path.decode("ascii").partition("?")[0])
    text = url.partition("#")[0].partition("?")[0]
    if "\\" in text:
        return "backslash in URL"
    if "://" in text:  # absolute: the transport checks the origin; check the path here
        return _bad_path(text.split("://", 1)[1].partition("/")[2])
    if text.startswith("//"):
        return "scheme-relative URL"
    if ":" in text.partition("/")[0]:
        return "URL with a scheme but no authority"
    return _bad_path(text)


@dataclass(frozen=True, slots=True)
class Origin:
    """The pinned scheme, host, port and path prefix of one upstream."""

    scheme: str
    host: str
    port: int
    prefix: str  # raw (percent-encoded) path, always ending with "/"

    @classmethod
    def from_base_url(cls, base_url: str) -> Origin:
        url = httpx.URL(base_url)
        prefix = url.raw_path.decode("ascii").partition("?")[0]
        if not prefix.endswith("/"):
            prefix += "/"
        return cls(url.scheme, url.host, _port(url), prefix)

    def check(self, url: httpx.URL) -> str | None:
        """Why ``url`` is refused, or ``None`` when it stays inside this origin and prefix."""
        if (url.scheme, url.host, _port(url)) != (self.scheme, self.host, self.port):
            return f"origin {url.scheme}://{url.host}:{_port(url)} is not the upstream's"
        if url.userinfo:
            return "credentials in URL"
        path = url.raw_path.decode("ascii").partition("?")[0]
        if not (path + "/").startswith(self.prefix):
            return "path leaves the upstream's base path"
        return _bad_path(path)

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _port(url: httpx.URL) -> int:
    if url.port is not None:
        return url.port
    return 443 if url.scheme == "https" else 80
