"""CSS ``url(...)`` and ``@import "..."`` in ``<style>`` blocks and style attributes.

A blocked URL becomes ``url("data:,")/*consent-blocked:<cat>:<original url, '*' as %2A>*/``, which the banner
turns back once the category is granted. CSS escapes (``u\\72l(``) and ``image-set("...")`` strings are not
recognised; the per-visitor CSP is the backstop for those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gateway.rewrite import tokenizer as tk
from gateway.rewrite.rules import strictest

_CSS_URL_TEXT = (
    r"(?i:url)\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\s]*))\s*\)"
    r"|(@(?i:import)\s*)(?:\"([^\"]*)\"|'([^']*)')"
)
_CSS_URL = re.compile(_CSS_URL_TEXT)
_CSS_URL_B = re.compile(_CSS_URL_TEXT.encode())
_CSS_URL_START_B = re.compile(rb"(?i:url\(|@import)")

CategoryOf = Callable[[str], str]  # URL -> the category that blocks it, "" if it may load


def _match_url(m: re.Match[str] | re.Match[bytes]) -> Any:
    for group in (1, 2, 3, 5, 6):
        value = m.group(group)
        if value is not None:
            return value
    return b"" if isinstance(m.group(), bytes) else ""


def css_category(css: str, category_of: CategoryOf) -> str:
    """The strictest category blocking a URL in ``css`` (a decoded style attribute), "" if none."""
    found = [c for c in (category_of(_match_url(m)) for m in _CSS_URL.finditer(css)) if c]
    return strictest(found) if found else ""


def rewrite_css(css: bytes, category_of: CategoryOf, charset: str) -> bytes:
    """``css`` (a piece of a ``<style>`` block) with every blocked URL replaced by the marker."""
    if css.find(b"(") < 0 and css.find(b"@") < 0:  # find, not `in` (see gateway.headers)
        return css

    def replace(m: re.Match[bytes]) -> bytes:
        url = _match_url(m).decode(charset, "replace")
        category = category_of(url)
        if not category:
            return m.group()
        marker = f'url("data:,")/*consent-blocked:{category}:{url.replace("*", "%2A")}*/'
        prefix = m.group(4) or b""
        return prefix + marker.encode(charset, "xmlcharrefreplace")

    return _CSS_URL_B.sub(replace, css)


def style_text(buf: bytes, pos: int, final: bool, category_of: CategoryOf, charset: str) -> tuple[bytes, int, bool]:
    """The next piece of a ``<style>`` block's text from ``pos``, rewritten: (text, where it stops, whether the
    block's end tag is there). Short of the end, a possible "</style" and an incomplete url() are held back."""
    m = tk.end_tag_search(b"style").search(buf, pos)
    if m is not None:
        stop = m.start()
    elif final:
        stop = len(buf)
    else:
        stop = _css_cut(buf, pos, max(pos, len(buf) - 7))
    return rewrite_css(buf[pos:stop], category_of, charset), stop, m is not None


def _css_cut(buf: bytes, pos: int, cut: int) -> int:
    """Where to stop rewriting ``buf[pos:]`` at most ``cut`` so that no url(...) or @import is cut in two:
    before the last one that is not complete yet."""
    last = None
    for last in _CSS_URL_START_B.finditer(buf, pos):  # noqa: B007 - only the last match is wanted
        pass
    if last is not None and last.start() < cut:
        m = _CSS_URL_B.match(buf, last.start())
        if m is None or m.end() > cut:
            return last.start()
    return cut
