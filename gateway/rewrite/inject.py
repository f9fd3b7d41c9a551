"""Where the gateway's markup goes into a page, and only once each.

``early`` (Consent Mode defaults) before the page's first script or with the head markup; ``head`` (the banner
tag) before ``</head>``, at ``<body>``, or before the first content; ``body`` (the no-JavaScript form) right after
``<body>`` or before the first content of a page without one. A UTF-8 byte-order mark stays the first bytes (an
injected tag before it would put the page into quirks mode); blanks, comments and the doctype are no content.
"""

from __future__ import annotations

from gateway.rewrite.charset import PageCharset
from gateway.rewrite.markup import head_markup
from gateway.rewrite.tags import Out

BOM = b"\xef\xbb\xbf"


class Injection:
    def __init__(self, head_html: str, early_html: str, body_html: str, copy_nonce: bool, charset: PageCharset) -> None:
        self._head_html = head_html
        self._copy_nonce = copy_nonce
        self._charset = charset
        self.injected = not head_html  # the head markup is in (or there is none)
        self._early = early_html.encode(charset.name, "xmlcharrefreplace") if early_html else b""
        self.body = body_html  # pending until the body starts
        self.nonce: bytes | None = None  # the page's own, copied onto the injected scripts
        self._fresh = True  # nothing read yet

    @property
    def idle(self) -> bool:
        """Nothing to inject at all."""
        return self.injected and not self._early and not self.body

    def lead(self, buf: bytes, out: Out, final: bool) -> int:
        """Where the markup starts: after a byte-order mark, passed on first. -1: too few bytes yet to tell."""
        if not self._fresh:
            return 0
        if not final and len(buf) < len(BOM) and BOM.startswith(buf):
            return -1
        self._fresh = False
        if buf.startswith(BOM):
            out.append(BOM)
            return len(BOM)
        return 0

    def early(self, out: Out) -> None:
        if self._early:
            out.append(self._early)
            self._early = b""

    def head(self, out: Out) -> None:
        self.early(out)
        if self.injected:
            return
        self.injected = True
        out.append(head_markup(self._head_html, self.nonce if self._copy_nonce else None, self._charset.name))

    def content(self, out: Out) -> None:
        """The page's content starts here: what goes before it is injected now (the body markup after the head's)."""
        self.head(out)
        if self.body:
            out.append(self.body.encode(self._charset.name, "xmlcharrefreplace"))
            self.body = ""
