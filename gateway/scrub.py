"""Value-based scrubbing: no configured secret leaves labgate inside a result.

An upstream may echo what it received (a debug endpoint, an error object that repeats the
request's headers, a misconfigured proxy). Whatever the capability, every result passes
:meth:`Scrubber.scan` before it is shaped and answered, on every face and also when it
comes from the cache. Each secret is searched in the forms an echo carries it:

* as is, and URL-encoded (``quote``, ``quote_plus``);
* base64 (standard and URL-safe alphabet), at each of the three byte offsets it can start
  at inside a longer encoded value (the characters that depend on the secret alone), so
  ``base64("user:" + secret)`` or a token embedded in an encoded blob is found too;
* the basic-auth pair ``user:secret`` (and its base64) for upstreams using ``basic``;
* cut short at the end of a string (a capability's own length limit, before a ``…`` or
  ``...`` mark): a trailing piece of at least ``MIN_CORE`` characters that begins a form.

The needles are computed once per secret set. A scan joins the result's strings (keys too)
into one text and looks for the heads of all needles in one pass (an Aho-Corasick automaton,
``ahocorasick-rs``); only on a hit does it walk the value again and replace each occurrence
with ``[redacted]``. With no
secret configured a scan costs nothing. Hits are reported by *label*
(``upstream:paperless``), never by value.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from ahocorasick_rs import AhoCorasick, Implementation

__all__ = ["REDACTED", "Scrubber", "secret_forms"]

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
#: Shortest piece searched: offset base64 cores and cut-off secrets shorter than this would
#: match ordinary text. Also the length of the head a scan probes for.
MIN_CORE = 8


def _b64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend on ``raw`` alone, at byte offsets 0, 1 and 2."""
    cores: set[str] = set()
    n = len(raw)
    for k in range(3):
        encoded = base64.b64encode(bytes(k) + raw).decode("ascii").rstrip("=")
        chars = [i for i in range(len(encoded)) if 6 * i // 8 >= k and (6 * i + 5) // 8 < k + n]
        if not chars:
            continue
        core = encoded[chars[0] : chars[-1] + 1]
        if k == 0 or len(core) >= MIN_CORE:
            cores.add(core)
            cores.add(core.translate(_URLSAFE))
    return cores


_URLSAFE = str.maketrans("+/", "-_")
#: Truncation marks a capability may append after cutting a string.
_MARKS = ".…"


def secret_forms(secret: str) -> set[str]:
    """Every form of ``secret`` searched in results (see the module docstring)."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")}
    forms |= _b64_cores(secret.encode("utf-8"))
    return {f for f in forms if f}


class Scrubber:
    """The needles of one secret set; ``Scrubber(())`` scrubs nothing, at no cost."""

    def __init__(self, secrets: Iterable[tuple[str, str]]) -> None:
        """``secrets``: (label, value) pairs; a label names where the secret is configured."""
        labels: dict[str, str] = {}
        for label, value in secrets:
            if len(value) < MIN_CORE:
                log.warning(
                    "%s: secret shorter than %d characters; any result text containing it is "
                    "redacted too",
                    label,
                    MIN_CORE,
                )
            for form in secret_forms(value):
                labels.setdefault(form, label)
        needles = sorted(labels, key=len, reverse=True)  # a longer form wins at one position
        self._labels = labels
        self._pattern = re.compile("|".join(map(re.escape, needles))) if needles else None
        #: What a scan looks for: each needle's head (a whole needle contains it, and so does
        #: a needle cut short by a capability's own length limit).
        heads = sorted({n[:MIN_CORE] for n in needles})
        self._heads = AhoCorasick(heads, implementation=Implementation.DFA) if heads else None
        #: Every proper prefix (at least MIN_CORE long) of a needle: a cut-off secret.
        self._prefixes = {
            n[:i]: label for n, label in labels.items() for i in range(MIN_CORE, len(n))
        }
        self._longest = len(needles[0]) if needles else 0

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def scan(self, value: Any) -> tuple[Any, list[str]]:
        """``value`` with every secret form replaced, and the labels of the secrets found."""
        if self._heads is None:
            return value, []
        parts: list[str] = []
        _strings(value, parts)
        if not self._heads.find_matches_as_indexes("\x00".join(parts)):
            return value, []
        found: set[str] = set()
        return self._walk(value, found), sorted(found)

    def text(self, value: str) -> str:
        """``value`` with every secret form replaced (log lines, audit notes, messages)."""
        if self._pattern is None:
            return value
        return self._replace(value, set())

    def _replace(self, value: str, found: set[str]) -> str:
        assert self._pattern is not None

        def hit(match: re.Match[str]) -> str:
            found.add(self._labels[match.group()])
            return REDACTED

        return self._cut_tail(self._pattern.sub(hit, value), found)

    def _cut_tail(self, value: str, found: set[str]) -> str:
        """Redact a secret cut short at the end of ``value`` (before a truncation mark)."""
        body = value.rstrip(_MARKS)
        start = max(0, len(body) - self._longest)
        for pos in range(start, len(body) - MIN_CORE + 1):
            label = self._prefixes.get(body[pos:])
            if label is not None:
                found.add(label)
                return body[:pos] + REDACTED + value[len(body) :]
        return value

    def _walk(self, value: Any, found: set[str]) -> Any:
        if isinstance(value, str):
            return self._replace(value, found)
        if isinstance(value, dict):
            return {self._walk(k, found): self._walk(v, found) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v, found) for v in value]
        return value


def _strings(value: Any, out: list[str]) -> None:
    """Every string of a JSON-like value (keys too), in order."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(key, out)
            _strings(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, out)
