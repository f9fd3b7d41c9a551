"""The page's charset: what values are decoded with and inserted markup is encoded in.

Only ASCII-compatible charsets are rewritten (utf-8, windows-1251, koi8-r, latin-1 ...): tags are then
ASCII bytes and the page itself is never decoded.
"""

from __future__ import annotations

import codecs
import re

_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_SNIFF_BYTES = 1024


def sniff_charset(content_type_header: str | None, head: bytes) -> str:
    """Charset from the Content-Type header, else a BOM or ``<meta charset>``/``http-equiv`` in the first
    1024 bytes, else utf-8. Returned as a Python codec name."""
    if content_type_header:
        m = _CT_CHARSET.search(content_type_header)
        name = codec(m.group(1)) if m else None
        if name:
            return name
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    m2 = _META_CHARSET.search(head[:_SNIFF_BYTES])
    name = codec(m2.group(1).decode("ascii")) if m2 else None
    if name and not name.startswith("utf-16"):  # a meta tag cannot switch to utf-16 (WHATWG)
        return name
    return "utf-8"


def codec(label: str) -> str | None:
    """Python's codec name for a charset label, None if unknown."""
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


class PageCharset:
    """One response's charset: the caller's (from Content-Type), else sniffed from the first 1024 bytes as
    they arrive. ``name`` is current after every ``see``."""

    def __init__(self, encoding: str | None) -> None:
        self.declared = codec(encoding) if encoding else None
        # utf-16/32 tags are not ASCII bytes: such a page cannot be tokenised and is passed through untouched.
        self.wide = bool(self.declared) and self.declared.startswith(("utf-16", "utf-32"))  # type: ignore[union-attr]
        self._sample = b""
        self.name = self.declared or sniff_charset(None, b"")

    def see(self, chunk: bytes) -> None:
        """Take the page's next chunk into account (only its first 1024 bytes matter)."""
        if self.declared is None and len(self._sample) < _SNIFF_BYTES:
            self._sample += chunk[: _SNIFF_BYTES - len(self._sample)]
            self.name = sniff_charset(None, self._sample)
