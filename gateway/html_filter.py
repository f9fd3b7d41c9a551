"""Incremental bytes -> bytes HTML filter: neutralise blocked third-party tags and inject the banner.

No I/O and no ASGI here: the middleware and the proxy feed body chunks and send what comes back. The
page is tokenised with compiled regular expressions over bytes (see ``gateway._tokenizer``); text and
tags that need no change are copied by slicing, so a page with nothing blocked and nothing to inject
comes out byte for byte identical. Only an incomplete construct at the end of a chunk is carried over.

Behaviour worth knowing (the limits are deliberate and documented here rather than hidden):

- Blocked markup follows DESIGN.md: ``src``/``href``/``srcset``/``poster``/``data``/``style`` become
  ``data-consent-<name>`` and ``data-consent-category="<cat>"`` is added right after the tag name, so it
  wins over a duplicate further on. Scripts also get ``type="text/plain"`` first, and their own ``type``
  becomes ``data-consent-type``. Every duplicate of a blocked attribute is renamed, so the browser cannot
  fall back to a second ``src``.
- Inline scripts are held (opening tag and body, at most ``max_carry`` bytes) until their end tag, so the
  opening tag can be rewritten if the body carries a vendor signature. A longer inline script is decided on
  its first ``max_carry`` bytes and streamed from there. A script matching several vendors is labelled
  with the strictest blocked category (marketing > analytics > preferences).
- ``<style>`` blocks: a blocked ``url(...)``/``@import "..."`` becomes
  ``url("data:,")/*consent-blocked:<cat>:<original url, '*' as %2A>*/`` so the banner can restore it.
  CSS escapes (``u\\72l(``) and ``image-set("...")`` strings are not recognised; the per-visitor CSP is the
  backstop for those.
- ``<noscript>`` is read the way a browser with scripting on reads it (raw text up to ``</noscript``),
  so nothing inside it can hide a real tag; blocked ``img``/``iframe``/... inside are still rewritten for
  crawlers and browsers without JavaScript.
- Text in ``<textarea>``/``<title>`` (RCDATA), ``<style>``/``<xmp>``/``<iframe>``/``<noembed>``/``<noframes>``
  (RAWTEXT), comments and ``<plaintext>`` is never taken for tags. ``<![CDATA[`` is a section only inside
  ``<svg>``/``<math>``. Inside them ``<style>``/``<title>``/``<script>`` do not switch the tokenizer (as in
  browsers) and an HTML "breakout" tag (``<p>``, ``<div>`` ...) ends foreign content. HTML integration
  points (``<foreignObject>``) and SVG ``<script href>`` are not modelled; the CSP covers them.
- A tag longer than ``max_carry`` (64 KB by default; in practice a huge ``data:`` URL) is decided on its
  first ``max_carry`` bytes, including the beginning of the attribute in progress, which is where a URL's
  scheme and host are; the rest of the tag then streams unread while the tokenizer keeps track of quotes
  to find its end. An attribute that only starts after 64 KB is not seen: the CSP covers that case.
  Inside ``<noscript>`` (text to a scripting browser) such a tag is passed on unread.
- Unterminated constructs at the end of the page are flushed unchanged (browsers drop an unterminated tag).
- ``head_html`` goes before ``</head>``; without one, right after ``<body ...>``; without either, before
  the first content (text or a start tag that does not belong in ``<head>``); at the end of a page that
  has no content at all. Only once.
- Nonce: with ``plan.nonce``, the nonce of a ``<meta http-equiv="Content-Security-Policy">`` or of any
  ``<script nonce>`` seen before the injection point is copied onto each ``<script`` of ``head_html``
  that has none. A nonce that exists only in the response header is the caller's to put into head_html.
- ``<base href>`` pointing at a third party, ``srcdoc`` iframes, legacy ``background=`` attributes and
  ``data-src`` lazy-loading (a first-party script copies it later) are not followed; the CSP covers them.
- With nothing blocked and nothing to inject the filter is a pass-through and costs nothing.
- Only ASCII-compatible charsets are supported (utf-8, windows-1251, koi8-r, latin-1 ...); a utf-16/32 page
  (declared by the caller) passes through untouched and is left to the CSP. Inserted text that the page's
  charset cannot encode becomes character references (fine in markup, not inside a head_html <script>).
"""

from __future__ import annotations

import codecs
import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from gateway import _tokenizer as tk
from gateway.vendors import _REGEX_BODY_LIMIT, Catalogue, split_url
from gateway.vocabulary import CATEGORIES

DEFAULT_MAX_CARRY: Final = 64 * 1024

_Out = list[bytes | memoryview]

# Filter states.
DATA, SCRIPT, RAWTEXT, STYLE, NOSCRIPT, COMMENT, BOGUS, CDATA, PLAINTEXT, TAGTAIL = range(10)

_URL_ATTRS: dict[bytes, tuple[bytes, ...]] = {
    b"img": (b"src", b"srcset"),
    b"image": (b"href", b"xlink:href"),
    b"iframe": (b"src",),
    b"frame": (b"src",),
    b"embed": (b"src",),
    b"object": (b"data",),
    b"video": (b"src", b"poster"),
    b"audio": (b"src",),
    b"source": (b"src", b"srcset"),
    b"track": (b"src",),
    b"input": (b"src",),
    b"link": (b"href", b"imagesrcset"),
}
_SRCSET = frozenset({b"srcset", b"imagesrcset"})
# The attributes _rewrite reads, per element: its URL attributes, style, and what decides whether a
# <link> or <input> loads anything. Only these are tokenised out of the tag (see tk.attr_picker).
_PICKERS = {
    name: tk.attr_picker(*urls, b"style", *{b"link": (b"rel",), b"input": (b"type",)}.get(name, ()))
    for name, urls in _URL_ATTRS.items()
}
_STYLE_PICKER = tk.attr_picker(b"style")
_SCRIPT_PICKER = tk.attr_picker(b"type", b"src", b"nonce")
_FONT_PICKER = tk.attr_picker(b"color", b"face", b"size")
_LINK_RELS = frozenset({"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "stylesheet",
                        "prerender"})
_RAWTEXT = frozenset({b"title", b"textarea", b"xmp", b"noembed", b"noframes", b"iframe"})
_HEAD_LEVEL = frozenset({b"html", b"head", b"base", b"meta", b"link", b"title", b"style", b"script",
                         b"noscript", b"template"})
_JS_TYPES = frozenset({
    "", "module", "text/javascript", "application/javascript", "text/ecmascript", "application/ecmascript",
    "application/x-javascript", "application/x-ecmascript", "text/x-javascript", "text/x-ecmascript",
    "text/jscript", "text/livescript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
    "text/javascript1.3", "text/javascript1.4", "text/javascript1.5",
})
_RANK = {c: i for i, c in enumerate(CATEGORIES)}
_ASCII_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_URL_CACHE_SIZE = 256

_CSS_URL_TEXT = (
    r"(?i:url)\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\s]*))\s*\)"
    r"|(@(?i:import)\s*)(?:\"([^\"]*)\"|'([^']*)')"
)
_CSS_URL = re.compile(_CSS_URL_TEXT)
_CSS_URL_B = re.compile(_CSS_URL_TEXT.encode())
_CSS_URL_START_B = re.compile(rb"(?i:url\(|@import)")
_SRCSET_URL = re.compile(r"(?:^|,)\s*([^\s,]\S*)")
_CSP_NONCE = re.compile(rb"'nonce-([A-Za-z0-9+/=_\-]+)'")
_SCRIPT_OPEN = re.compile(r"<script(?=[\s/>])(?![^>]*\snonce\s*=)", re.IGNORECASE)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class FilterPlan:
    """What to block for this response, decided before the body arrives.

    Compared by identity: plans are made once per consent class and reused, and they key the cache of
    rewritten pages, where hashing every field on every request would cost more than the lookup saves."""

    blocked: frozenset[str]  # categories the visitor has NOT granted
    catalogue: Catalogue
    first_party: frozenset[str]  # hosts of the site itself (lower case)
    head_html: str = ""  # injected before </head> (or at <body> start); "" = inject nothing (bots)
    early_html: str = ""  # injected before the page's first <script> (or with head_html): Consent Mode defaults
    category_labels: tuple[tuple[str, str], ...] = ()  # category id -> its title in the page's language
    banner_path: str = ""  # a page that already loads a script with this in its src keeps its own (no head_html)
    nonce: bool = True  # copy the page's CSP nonce onto injected <script> tags
    placeholder: str = "{vendor}: blocked until you allow {category}. Load"  # last sentence = button label


def sniff_charset(content_type_header: str | None, head: bytes) -> str:
    """Charset from the Content-Type header, else a BOM or ``<meta charset>``/``http-equiv`` in the first
    1024 bytes, else utf-8. Returned as a Python codec name."""
    if content_type_header:
        m = _CT_CHARSET.search(content_type_header)
        name = _codec(m.group(1)) if m else None
        if name:
            return name
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    m2 = _META_CHARSET.search(head[:1024])
    name = _codec(m2.group(1).decode("ascii")) if m2 else None
    if name and not name.startswith("utf-16"):  # a meta tag cannot switch to utf-16 (WHATWG)
        return name
    return "utf-8"


def _codec(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _breaks_out(name: bytes, tag: bytes) -> bool:
    """HTML start tags that end foreign content; <font> only with color, face or size."""
    if name == b"font":
        return bool(_FONT_PICKER(tag, 5))
    return name in tk.BREAKOUT


def _executable(script_type: str) -> bool:
    """JavaScript or module; parameters ("text/javascript; charset=utf-8") are ignored to fail closed."""
    return script_type.split(";", 1)[0].strip().lower() in _JS_TYPES


def _strictest(categories: list[str] | set[str]) -> str:
    if len(categories) == 1:
        return next(iter(categories))
    return max(categories, key=_RANK.__getitem__)


@functools.lru_cache(maxsize=8)
def _inline_signatures(catalogue: Catalogue) -> tuple[re.Pattern[bytes] | None, dict[bytes, str]]:
    """The catalogue's inline-signature alternation regrouped by first byte, and signature -> category.

    Same alternatives in the same order (longest escaped pattern first), so finditer finds exactly what
    ``Catalogue.vendors_for_inline_bytes`` finds; but sre no longer tries all of them at every byte, only
    those that start with it, which makes the search several times faster on a typical snippet."""
    by_signature = {s: v for v in catalogue.vendors for s in v.signatures}
    escaped = sorted((re.escape(s.encode("ascii")) for s in by_signature), key=len, reverse=True)
    if not escaped:
        return None, {}
    groups: dict[bytes, list[bytes]] = {}
    for pattern in escaped:
        first = pattern[:2] if pattern.startswith(b"\\") else pattern[:1]
        groups.setdefault(first, []).append(pattern[len(first) :])
    trie = b"|".join(first + b"(?:" + b"|".join(rest) + b")" for first, rest in groups.items())
    return re.compile(trie), {s.encode("ascii"): v.category for s, v in by_signature.items()}


class HtmlFilter:
    """One response's filter: ``feed`` chunks, then ``close`` once. Not shared between responses."""

    def __init__(self, plan: FilterPlan, encoding: str | None = None, max_carry: int = DEFAULT_MAX_CARRY):
        self._plan = plan
        self._catalogue = plan.catalogue
        self._blocked = frozenset(plan.blocked) - {"necessary"}
        self._encoding = _codec(encoding) if encoding else None
        self._sample = b""  # first bytes, to sniff <meta charset> when the header had none
        self._max_carry = max_carry
        self._carry = b""
        self._state = DATA
        self._end_name = b""  # element whose end tag closes RAWTEXT/RCDATA/STYLE/NOSCRIPT
        self._script_sub = 0  # 0 script data, 1 escaped, 2 double escaped
        self._hold: list[bytes] | None = None  # inline script held until its body is known
        self._hold_size = 0
        self._hold_tag = b""
        self._hold_name_end = 0
        self._placeholder = b""  # emitted after the blocked iframe's end tag
        self._foreign = 0  # depth of <svg>/<math>
        self._tail_state = ""
        self._tail_next = DATA
        self._injected = not plan.head_html
        self._early = plan.early_html.encode(self._charset(), "xmlcharrefreplace") if plan.early_html else b""
        self._nonce: bytes | None = None
        self._closed = False
        # Nothing to block and nothing to inject; or a charset whose tags are not ASCII bytes (utf-16/32),
        # which this byte tokenizer cannot read: passed through untouched rather than corrupted.
        wide = bool(self._encoding) and self._encoding.startswith(("utf-16", "utf-32"))  # type: ignore[union-attr]
        self._passthrough = (self._injected and not self._early and not self._blocked) or wide
        self._url_categories: dict[str, str] = {}  # a page repeats its URLs; bounded
        self._skip = tk.skip_after(plan.first_party, max_carry)
        self._placeholders: dict[tuple[str, str], bytes] = {}

    # -- public API -----------------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """Filter the next chunk; returns what can be sent now (possibly b"")."""
        if self._passthrough:
            return chunk
        if self._encoding is None and len(self._sample) < 1024:
            self._sample += chunk[: 1024 - len(self._sample)]
        buf = self._carry + chunk if self._carry else chunk
        out: _Out = []
        pos = self._process(buf, out, final=False)
        self._carry = buf[pos:]
        if len(self._carry) > self._max_carry:
            self._overflow(out)
        return b"".join(out)

    def close(self) -> bytes:
        """Flush everything held back; call once, after the last chunk."""
        if self._closed or self._passthrough:
            return b""
        self._closed = True
        buf, self._carry = self._carry, b""
        out: _Out = []
        self._process(buf, out, final=True)
        if self._hold is not None:
            self._release_script(out)
        if self._placeholder:
            out.append(self._placeholder)
            self._placeholder = b""
        self._inject(out)
        return b"".join(out)

    # -- the state loop -----------------------------------------------------------------------------------

    def _process(self, buf: bytes, out: _Out, final: bool) -> int:
        mv = memoryview(buf)
        pos, n = 0, len(buf)
        while pos < n:
            state = self._state
            new = self._HANDLERS[state](self, buf, mv, pos, out, final)
            if new == pos and self._state == state:
                break  # needs more data
            pos = new
        return pos

    def _data(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        n = len(buf)
        while True:
            skip = tk.SKIP_BEFORE if not self._injected else tk.SKIP_FOREIGN if self._foreign else self._skip
            end = skip.match(buf, pos).end()  # type: ignore[union-attr]
            if end > pos:
                out.append(mv[pos:end])
                pos = end
            if pos >= n:
                return pos
            if buf[pos] != 0x3C:  # non-blank text before the injection point: the banner goes first
                self._inject(out)
                continue
            new = self._at_lt(buf, pos, out)
            if new is None:
                if not final:
                    return pos
                self._inject(out)
                out.append(mv[pos:])  # unterminated at EOF: as is (browsers drop it)
                return n
            pos = new
            if self._state != DATA:
                return pos

    def _at_lt(self, buf: bytes, p: int, out: _Out) -> int | None:
        """Handle the construct at a "<" the skip pattern stopped at; None if it is not complete yet."""
        n = len(buf)
        if p + 1 >= n:
            return None
        c = buf[p + 1]
        if c in _ASCII_LETTERS:
            m = tk.START_TAG.match(buf, p)
            return None if m is None else self._start_tag(m, out)
        if c == 0x2F:  # "/"
            if p + 2 < n and buf[p + 2] not in _ASCII_LETTERS:
                return self._enter(BOGUS, buf, p, p + 2, out)
            m = tk.END_TAG.match(buf, p)
            return None if m is None else self._end_tag(m, out)
        if c == 0x21:  # "!"
            if buf.startswith(b"<!--", p):
                return None if n - p < 6 else self._enter(COMMENT, buf, p, p + 4, out)
            if buf.startswith(b"<![CDATA[", p):
                return self._enter(CDATA if self._foreign else BOGUS, buf, p, p + 9, out)
            head = buf[p : p + 9]
            if b"<!--".startswith(head) or b"<![CDATA[".startswith(head):
                return None
            return self._enter(BOGUS, buf, p, p + 2, out)
        if c == 0x3F:  # "<?"
            return self._enter(BOGUS, buf, p, p + 2, out)
        self._inject(out)  # "<" that starts nothing is text, hence content
        out.append(b"<")
        return p + 1

    def _enter(self, state: int, buf: bytes, p: int, q: int, out: _Out) -> int:
        self._inject_before_content(state, out)
        out.append(buf[p:q])
        self._state = state
        return q

    def _inject_before_content(self, state: int, out: _Out) -> None:
        """Comments and bogus comments are not content; only CDATA text would be."""
        if state == CDATA:
            self._inject(out)

    # -- tags ---------------------------------------------------------------------------------------------

    def _start_tag(self, m: re.Match[bytes], out: _Out) -> int:
        tag = m.group()
        name = m.group(1).lower()
        name_end = m.end(1) - m.start()
        if self._foreign and _breaks_out(name, tag):
            self._foreign = 0  # an HTML tag closes every open <svg>/<math>
        if not self._injected:
            if name == b"meta":
                self._sniff_meta_nonce(tag)
            elif name not in _HEAD_LEVEL and name != b"body":
                self._inject(out)
        if len(tag) > self._max_carry:
            self._oversized_start(name, tag, name_end, out)  # decided as if it had arrived in pieces
            return m.end()
        if name == b"script" and not self._foreign:
            if self._early:
                out.append(self._early)
                self._early = b""
            self._script_start(tag, name_end, out)
            return m.end()
        new, blocked_url, category = self._rewrite(name, tag, name_end)
        out.append(new)
        if name == b"body":
            self._inject(out)
        self._enter_content(name, tag)
        if self._state == RAWTEXT and name == b"iframe" and blocked_url and category:
            self._placeholder = self._placeholder_html(category, blocked_url)
        return m.end()

    def _enter_content(self, name: bytes, tag: bytes) -> None:
        """Switch the tokenizer state the way the tree builder would for this start tag."""
        if name in (b"svg", b"math"):
            if not tag.endswith(b"/>"):
                self._foreign += 1
            return
        if self._foreign:
            return  # foreign elements (svg <style>, <title>) keep tokenising as data
        if name in _RAWTEXT:
            self._state, self._end_name = RAWTEXT, name
        elif name == b"style":
            self._state, self._end_name = STYLE, name
        elif name == b"noscript":
            self._state, self._end_name = NOSCRIPT, name
        elif name == b"plaintext":
            self._state = PLAINTEXT

    def _end_tag(self, m: re.Match[bytes], out: _Out) -> int:
        name = m.group(1).lower()
        if name == b"head":
            self._inject(out)
        elif name in (b"svg", b"math") and self._foreign:
            self._foreign -= 1
        out.append(m.group())
        return m.end()

    def _rewrite(self, name: bytes, tag: bytes, name_end: int, partial: bool = False) -> tuple[bytes, str, str]:
        """(tag, first blocked URL, category); the tag unchanged unless something in it is blocked."""
        url_names = _URL_ATTRS.get(name, ())
        view = tag[: self._max_carry] if partial else tag
        if _ABSOLUTE.search(view) is None or not url_names and (b"(" not in view or b"url(" not in view.lower()):
            return tag, "", ""  # every URL relative; or no URL attribute and no url()
        attrs = _PICKERS.get(name, _STYLE_PICKER)(view, name_end)
        first: dict[bytes, tk.Attr] = {}
        for a in attrs:
            first.setdefault(a.lname, a)
        if name == b"link" and not self._link_loads(first):
            url_names = ()
        elif name == b"input" and self._value(first, b"type", partial).strip().lower() != "image":
            url_names = ()
        renames: set[bytes] = set()
        categories: list[str] = []
        blocked_url = ""
        for attr_name in url_names:
            if attr_name not in first:
                continue
            text = self._value(first, attr_name, partial)
            urls = [u.rstrip(",") for u in _SRCSET_URL.findall(text)] if attr_name in _SRCSET else [text]
            for url in urls:
                category = self._blocked_category(url)
                if category:
                    renames.add(attr_name)
                    categories.append(category)
                    blocked_url = blocked_url or url
        if b"style" in first:
            category = self._css_category(self._value(first, b"style", partial))
            if category:
                renames.add(b"style")
                categories.append(category)
        if not categories:
            return tag, "", ""
        category = _strictest(categories)
        insert = b' data-consent-category="' + category.encode() + b'"'
        if name == b"iframe":
            # Hidden while blocked (the placeholder after it stands in); the banner restores the original style.
            if b"style" in first:
                renames.add(b"style")
            else:
                insert += b' data-consent-style=""'
            insert += b' style="display:none"'
        return _rename(tag, name_end, attrs, renames, insert), blocked_url, category

    def _link_loads(self, first: dict[bytes, tk.Attr]) -> bool:
        rels = self._value(first, b"rel").lower().split()
        return any(r in _LINK_RELS for r in rels)

    # -- scripts --------------------------------------------------------------------------------------------

    def _script_start(self, tag: bytes, name_end: int, out: _Out) -> None:
        attrs = _SCRIPT_PICKER(tag, name_end)
        first: dict[bytes, tk.Attr] = {}
        for a in attrs:
            first.setdefault(a.lname, a)
        if not self._injected and self._nonce is None and b"nonce" in first:
            self._nonce = first[b"nonce"].value or None
        self._state, self._script_sub = SCRIPT, 0
        if not _executable(self._value(first, b"type")):
            out.append(tag)  # JSON-LD, importmap, templates: data, never executed
            return
        if b"src" in first:
            src = self._value(first, b"src")
            if not self._injected and self._plan.banner_path and self._plan.banner_path in src:
                self._injected = True  # the page embeds the banner itself: never load it twice
            category = self._blocked_category(src)
            out.append(_block_script(tag, name_end, attrs, category, b"src") if category else tag)
            return
        self._hold, self._hold_size = [], 0
        self._hold_tag, self._hold_name_end = tag, name_end

    def _script(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        i, sub, n = pos, self._script_sub, len(buf)
        end = -1
        while True:
            pattern = (tk.SCRIPT_DATA, tk.SCRIPT_ESCAPED, tk.SCRIPT_DOUBLE_ESCAPED)[sub]
            m = pattern.search(buf, i)
            if m is None:
                break
            tok = m.group()
            if tok == b"-->":
                sub, i = 0, m.end()
            elif tok.startswith(b"<!"):
                sub, i = 1, m.end() - 2  # the dashes of "<!--" count towards "-->": "<!-->" closes at once
            elif tok[1] == 0x2F:  # "</script"
                if sub == 2:
                    sub, i = 1, m.end() - 1
                else:
                    end = m.start()
                    break
            else:  # "<script" inside an escaped section
                sub, i = 2, m.end() - 1
        self._script_sub = sub
        cut = end if end >= 0 else n if final else max(i, n - tk.SCRIPT_END_TAIL)
        self._emit_script_body(mv[pos:cut], out)
        if end >= 0:
            if self._hold is not None:
                self._release_script(out)
            self._state = DATA
        return cut

    def _emit_script_body(self, body: memoryview, out: _Out) -> None:
        if self._hold is None:
            out.append(body)
            return
        self._hold.append(bytes(body))
        self._hold_size += len(body)
        if self._hold_size > self._max_carry:
            self._release_script(out)  # decided on what we have; the rest streams

    def _release_script(self, out: _Out) -> None:
        """Emit the held inline script, its opening tag rewritten if the body names a blocked vendor."""
        assert self._hold is not None
        body = b"".join(self._hold)
        # Only the first max_carry bytes decide, however the body was chunked.
        head = body[: self._max_carry]
        signatures, category_of = _inline_signatures(self._catalogue)
        if len(head) > _REGEX_BODY_LIMIT or signatures is None:
            categories = {v.category for v in self._catalogue.vendors_for_inline_bytes(head)}
        else:
            categories = {category_of[s] for s in signatures.findall(head)}
        categories &= self._blocked
        tag = self._hold_tag
        if categories:
            attrs = _SCRIPT_PICKER(tag, self._hold_name_end)
            tag = _block_script(tag, self._hold_name_end, attrs, _strictest(categories))
        out.append(tag)
        out.append(body)
        self._hold = None

    # -- raw text states --------------------------------------------------------------------------------------

    def _rawtext(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        m = tk.end_tag_search(self._end_name).search(buf, pos)
        if m is None:
            cut = len(buf) if final else max(pos, len(buf) - len(self._end_name) - 2)
            out.append(mv[pos:cut])
            return cut
        out.append(mv[pos : m.start()])
        if self._placeholder:
            end = tk.END_TAG.match(buf, m.start())
            if end is None and not final:
                return m.start()  # wait for the whole </iframe ...> to put the placeholder after it
            stop = end.end() if end else len(buf)
            out.append(mv[m.start() : stop])
            out.append(self._placeholder)
            self._placeholder = b""
            self._state = DATA
            return stop
        self._state = DATA
        return m.start()

    def _style(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        m = tk.end_tag_search(b"style").search(buf, pos)
        if m is not None:
            stop = m.start()
        elif final:
            stop = len(buf)
        else:
            stop = self._css_cut(buf, pos, max(pos, len(buf) - 7))
        out.append(self._rewrite_css(buf[pos:stop]))
        if m is not None:
            self._state = DATA
        return stop

    def _css_cut(self, buf: bytes, pos: int, cut: int) -> int:
        """Do not cut a url(...) or @import in two: stop before the last one that is not complete yet."""
        last = None
        for last in _CSS_URL_START_B.finditer(buf, pos):  # noqa: B007 - only the last match is wanted
            pass
        if last is not None and last.start() < cut:
            m = _CSS_URL_B.match(buf, last.start())
            if m is None or m.end() > cut:
                return last.start()
        return cut

    def _noscript(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        m = tk.end_tag_search(b"noscript").search(buf, pos)
        limit = m.start() if m is not None else len(buf)
        stop = self._rewrite_inner_tags(buf, pos, limit, out, known_end=m is not None or final)
        if m is not None:
            self._state = DATA
        return stop

    def _rewrite_inner_tags(self, buf: bytes, pos: int, limit: int, out: _Out, known_end: bool) -> int:
        """Rewrite blocked loading tags in noscript text (for crawlers and no-JS browsers); returns how far
        it got. Tags are read one after another, so a "<" inside a quoted value is never taken for a tag.
        Until the end of the noscript is known, an incomplete tag and a possible "</noscript" are held back."""
        last = i = after_tag = pos
        while True:
            lt = buf.find(b"<", i, limit)
            if lt == -1 or lt + 1 >= limit:
                break
            if buf[lt + 1] not in _ASCII_LETTERS:
                i = lt + 1
                continue
            m = tk.START_TAG.match(buf, lt, limit)
            if m is None:
                if not known_end:
                    out.append(buf[last:lt])
                    return lt
                i = lt + 1  # never completed inside the noscript: text
                continue
            name = m.group(1).lower()
            if len(m.group()) > self._max_carry:
                pass  # would have been flushed unread had it arrived in pieces (see _overflow)
            elif name in _URL_ATTRS or b"style" in m.group().lower():
                new, _, category = self._rewrite(name, m.group(), m.end(1) - m.start())
                if category:
                    out.append(buf[last:lt])
                    out.append(new)
                    last = m.end()
            i = after_tag = m.end()
        stop = limit if known_end else max(after_tag, limit - len(b"</noscript"))
        out.append(buf[last:stop])
        return stop

    def _plaintext(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        out.append(mv[pos:])
        return len(buf)

    def _tagtail(self, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        end, state = tk.tag_tail(buf, pos, self._tail_state)
        out.append(mv[pos:end])
        self._tail_state = state
        if state == "done":
            self._state = self._tail_next
        return end

    # -- a construct longer than max_carry --------------------------------------------------------------------

    def _overflow(self, out: _Out) -> None:
        """The carry-over outgrew its bound: decide on what is known and stream the rest."""
        carry, self._carry = self._carry, b""
        if self._state != DATA or not carry.startswith(b"<"):
            out.append(carry)  # noscript or style text: inert for a scripting browser
            return
        is_end = carry.startswith(b"</")
        m = tk.TAG_NAME.match(carry, 2 if is_end else 1)
        if m is None:
            out.append(carry)
            return
        name, name_end = m.group().lower(), m.end()
        self._tail_next = DATA
        if is_end:
            out.append(carry)
        else:
            if not self._injected and name not in _HEAD_LEVEL:
                self._inject(out)
            self._oversized_start(name, carry, name_end, out)
            self._tail_next = self._state
        _, self._tail_state = tk.tag_tail(carry, name_end, "tagname")
        self._state = TAGTAIL

    def _oversized_start(self, name: bytes, tag: bytes, name_end: int, out: _Out) -> None:
        """A start tag longer than max_carry, whole or not: decided on its first max_carry bytes, so the
        outcome does not depend on where the chunks happened to split it; an inline script is not held."""
        out.append(self._decide_partial(name, tag, name_end))
        if name == b"script" and not self._foreign:
            self._state, self._script_sub = SCRIPT, 0
        else:
            self._enter_content(name, b"")

    def _decide_partial(self, name: bytes, carry: bytes, name_end: int) -> bytes:
        if name == b"script" and not self._foreign:
            attrs = _SCRIPT_PICKER(carry[: self._max_carry], name_end)
            first = {a.lname: a for a in reversed(attrs)}
            if not _executable(self._value(first, b"type", partial=True)):
                return carry
            if b"src" in first:
                category = self._blocked_category(self._value(first, b"src", partial=True))
                if category:
                    return _block_script(carry, name_end, attrs, category, b"src")
            return carry
        return self._rewrite(name, carry, name_end, partial=True)[0]

    # -- values, URLs, CSS ------------------------------------------------------------------------------------

    def _value(self, first: dict[bytes, tk.Attr], name: bytes, partial: bool = False) -> str:
        """Decoded, entity-unescaped value of the first attribute called ``name`` ("" if absent)."""
        attr = first.get(name)
        if attr is None or not attr.value:
            return ""
        raw = attr.value.lstrip(b"\"'") if partial else attr.value
        text = raw.decode("ascii") if raw.isascii() else raw.decode(self._charset(), "replace")
        return html.unescape(text) if "&" in text else text

    def _blocked_category(self, url: str) -> str:
        """The category that blocks ``url`` for this visitor, "" if it may load."""
        cached = self._url_categories.get(url)
        if cached is not None:
            return cached
        category = self._catalogue.category_for_url(url, self._plan.first_party) if url else None
        result = category if category in self._blocked else ""
        if len(self._url_categories) >= _URL_CACHE_SIZE:
            self._url_categories.clear()
        self._url_categories[url] = result or ""
        return result or ""

    def _css_category(self, css: str) -> str:
        found = [c for c in (self._blocked_category(_css_match_url(m)) for m in _CSS_URL.finditer(css)) if c]
        return _strictest(found) if found else ""

    def _rewrite_css(self, css: bytes) -> bytes:
        if b"(" not in css and b"@" not in css:
            return css

        def replace(m: re.Match[bytes]) -> bytes:
            url = _css_match_url(m).decode(self._charset(), "replace")
            category = self._blocked_category(url)
            if not category:
                return m.group()
            marker = f'url("data:,")/*consent-blocked:{category}:{url.replace("*", "%2A")}*/'
            prefix = m.group(4) or b""
            return prefix + marker.encode(self._charset(), "xmlcharrefreplace")

        return _CSS_URL_B.sub(replace, css)

    # -- injection ----------------------------------------------------------------------------------------------

    def _charset(self) -> str:
        return self._encoding or sniff_charset(None, self._sample)

    def _sniff_meta_nonce(self, tag: bytes) -> None:
        if self._nonce is None and b"content-security-policy" in tag.lower():
            m = _CSP_NONCE.search(tag)
            if m:
                self._nonce = m.group(1)

    def _inject(self, out: _Out) -> None:
        if self._early:
            out.append(self._early)
            self._early = b""
        if self._injected:
            return
        self._injected = True
        text = self._plan.head_html
        if self._plan.nonce and self._nonce:
            nonce = html.escape(self._nonce.decode("ascii", "replace"), quote=True)
            text = _SCRIPT_OPEN.sub(f'<script nonce="{nonce}"', text)
        out.append(text.encode(self._charset(), "xmlcharrefreplace"))

    def _placeholder_html(self, category: str, url: str) -> bytes:
        key = (category, url)
        markup = self._placeholders.get(key)
        if markup is None:
            if len(self._placeholders) >= _URL_CACHE_SIZE:
                self._placeholders.clear()
            markup = self._placeholders[key] = self._make_placeholder(category, url)
        return markup

    def _make_placeholder(self, category: str, url: str) -> bytes:
        parts = split_url(url)
        vendor = self._catalogue.vendor_for_url(url) if parts else None
        label = vendor.name if vendor else parts[0] if parts else url
        title = dict(self._plan.category_labels).get(category, category)
        return _placeholder_markup(self._plan.placeholder, label, category, title, self._charset())

    _HANDLERS: dict[int, _Handler] = {}  # filled below, once the methods exist


_Handler = Callable[[HtmlFilter, bytes, memoryview, int, _Out, bool], int]


# Inline, so the placeholder has its final size from the first byte (no layout shift when a stylesheet
# arrives) and a site's own CSS for .consent-placeholder still applies where it sets !important.
_PLACEHOLDER_STYLE = ("display:flex;flex-direction:column;align-items:flex-start;gap:.5em;box-sizing:border-box;"
                      "max-width:560px;padding:1em;border:1px dashed #8a94a0;border-radius:6px;"
                      "background:#f4f6f8;color:#1b1f24;font:15px/1.5 system-ui,sans-serif")
_BUTTON_STYLE = "font:inherit;padding:.4em 1em;border:0;border-radius:4px;background:#0a4d8c;color:#fff;cursor:pointer"


@functools.lru_cache(maxsize=256)
def _placeholder_markup(template: str, label: str, category: str, title: str, charset: str) -> bytes:
    """Placeholder after a blocked iframe; the template's last sentence is the button label."""
    text = template.replace("{vendor}", label).replace("{category}", title)
    message, dot, button = text.rpartition(". ")
    if not dot:
        message, button = text, "Load"
    else:
        message += "."
    markup = (
        f'<div class="consent-placeholder" data-consent-placeholder data-consent-category="{category}" '
        f'style="{_PLACEHOLDER_STYLE}"><p style="margin:0">{html.escape(message)}</p>'
        f'<button type="button" data-consent-load style="{_BUTTON_STYLE}">{html.escape(button)}</button></div>'
    )
    return markup.encode(charset, "xmlcharrefreplace")


def _until(pattern: re.Pattern[bytes], keep: int) -> _Handler:
    """Handler for states that end at a fixed token and hold nothing to rewrite (comments, CDATA)."""

    def handler(self: HtmlFilter, buf: bytes, mv: memoryview, pos: int, out: _Out, final: bool) -> int:
        m = pattern.search(buf, pos)
        if m is None:
            cut = len(buf) if final else max(pos, len(buf) - keep)
            out.append(mv[pos:cut])
            return cut
        out.append(mv[pos : m.end()])
        self._state = DATA
        return m.end()

    return handler


# A tag in which every URL is relative (no "//", no scheme, nothing escaped or disguised) cannot load from
# a third party. Most tags on a page are first-party images and links; this keeps them off the slow path.
_ABSOLUTE = re.compile(rb"//|[:\\&]|/[\t\n\r]")


def _css_match_url(m: re.Match[str] | re.Match[bytes]) -> Any:
    for group in (1, 2, 3, 5, 6):
        value = m.group(group)
        if value is not None:
            return value
    return b"" if isinstance(m.group(), bytes) else ""


def _rename(tag: bytes, name_end: int, attrs: list[tk.Attr], renames: set[bytes], insert: bytes) -> bytes:
    """Insert attributes after the tag name and prefix every listed attribute name with data-consent-."""
    parts = [tag[:name_end], insert]
    last = name_end
    for a in attrs:
        if a.lname in renames:
            parts.append(tag[last : a.start])
            parts.append(b"data-consent-")
            last = a.start
    parts.append(tag[last:])
    return b"".join(parts)


def _block_script(tag: bytes, name_end: int, attrs: list[tk.Attr], category: str, *urls: bytes) -> bytes:
    insert = b' type="text/plain" data-consent-category="' + category.encode() + b'"'
    return _rename(tag, name_end, attrs, {b"type", *urls}, insert)


HtmlFilter._HANDLERS = {
    DATA: HtmlFilter._data,
    SCRIPT: HtmlFilter._script,
    RAWTEXT: HtmlFilter._rawtext,
    STYLE: HtmlFilter._style,
    NOSCRIPT: HtmlFilter._noscript,
    COMMENT: _until(tk.COMMENT_END, 3),
    BOGUS: _until(re.compile(rb">"), 0),
    CDATA: _until(re.compile(rb"]]>"), 2),
    PLAINTEXT: HtmlFilter._plaintext,
    TAGTAIL: HtmlFilter._tagtail,
}
