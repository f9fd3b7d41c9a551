"""Raw ASGI header helpers for the per-response hot path.

The middlewares edit a response's header list once, in one pass, instead of through ``MutableHeaders``
(every get, set and delete of which scans and rebuilds the list). Values are bytes as ASGI carries them;
the few distinct values a site sends for ``Cache-Control`` and ``Vary`` are transformed once and remembered.
ASGI response header names are lower case, which these helpers rely on.

On a hot path, bytes are searched with ``find`` rather than ``in``: CPython's ``x in some_bytes`` first tries
``x`` as an integer (``97 in b"a"``), and for a bytes ``x`` that raises and clears a TypeError every time, which
costs several times the search itself.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any

RawHeaders = list[tuple[bytes, bytes]]
REQUEST_HEADERS = "gateway.request_headers"


def request_headers(scope: MutableMapping[str, Any]) -> dict[bytes, bytes]:
    """A request's headers by name, read once per request and kept in ``scope`` for every layer that asks
    (forwarded headers, allowed hosts, the coding, the consent, the access log): one pass over the list instead of
    one per layer. A repeated name's lines are joined as RFC 9110 5.3 reads them (Cookie's with ``; ``)."""
    found: dict[bytes, bytes] | None = scope.get(REQUEST_HEADERS)
    if found is None:
        raw = scope["headers"]
        found = dict(raw)
        if len(found) != len(raw):
            found = {}
            for name, value in raw:
                if name in found:
                    value = found[name] + (b"; " if name == b"cookie" else b", ") + value
                found[name] = value
        scope[REQUEST_HEADERS] = found
    return found


def joined(values: list[bytes]) -> bytes | None:
    """Repeated header lines as one comma-separated value (RFC 9110 5.3); None when there were none."""
    if not values:
        return None
    return values[0] if len(values) == 1 else b", ".join(values)


@lru_cache(maxsize=256)
def vary_with(existing: bytes | None, token: bytes) -> bytes:
    """``Vary`` naming ``token`` as well as what it named before (once; ``*`` already covers everything)."""
    if not existing:
        return token
    names = {part.strip().lower() for part in existing.split(b",")}
    if token.lower() in names or b"*" in names:
        return existing
    return existing + b", " + token


@lru_cache(maxsize=256)
def private(cache_control: bytes | None) -> bytes:
    """``Cache-Control`` for a page rewritten for one visitor: never stored by a shared cache."""
    if not cache_control:
        return b"private"
    parts = [p.strip() for p in cache_control.split(b",") if p.strip()]
    parts = [p for p in parts if p.lower() != b"public" and not p.lower().startswith(b"s-maxage")]
    if not any(p.lower() in (b"private", b"no-store") for p in parts):
        parts.insert(0, b"private")
    return b", ".join(parts)


def add_vary(headers: RawHeaders, token: bytes) -> RawHeaders:
    """The list with ``Vary`` naming ``token``; the same list when nothing needs to change."""
    values = [value for name, value in headers if name == b"vary"]
    merged = vary_with(joined(values), token)
    if len(values) == 1 and merged == values[0]:
        return headers
    out = [item for item in headers if item[0] != b"vary"] if values else list(headers)
    out.append((b"vary", merged))
    return out
