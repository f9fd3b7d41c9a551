"""The streaming state machine: ``feed`` chunks, get back what can be sent now, ``close`` once.

Behaviour worth knowing (the limits are deliberate and documented here rather than hidden):

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
  has no content at all. Only once. A UTF-8 byte-order mark, blanks, comments and the doctype stay first.
  ``body_html`` goes right after ``<body ...>``, or before the first content of a page without a body tag.
  ``early_html`` goes before the page's first ``<script>``, or with ``head_html``.
- Nonce: with ``plan.nonce``, the nonce of a ``<meta http-equiv="Content-Security-Policy">`` or of any
  ``<script nonce>`` seen before the injection point is copied onto each ``<script`` of ``head_html``
  that has none. A nonce that exists only in the response header is the caller's to put into head_html.
- ``<base href>`` on a blocked host, ``srcdoc`` iframes whose markup names a blocked URL, SVG ``<use>``/
  ``<feImage>``, legacy ``background=`` attributes, icon and manifest links, and lazy-loading attributes
  (``data-src``, ``data-lazy-src``, ``data-original``, ``data-bg`` ... on any element) follow the rules table.
- With nothing blocked and nothing to inject the filter is a pass-through and costs nothing.
- A utf-16/32 page (declared by the caller) passes through untouched and is left to the CSP. Inserted text
  that the page's charset cannot encode becomes character references (fine in markup, not inside a
  head_html <script>).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from gateway.rewrite import tokenizer as tk
from gateway.rewrite.charset import PageCharset
from gateway.rewrite.css import style_text
from gateway.rewrite.inject import Injection
from gateway.rewrite.opentag import OpenTag
from gateway.rewrite.rules import BREAKOUT, FONT_BREAKOUT_ATTRS, HEAD_LEVEL, RAWTEXT
from gateway.rewrite.scripts import ScriptHolder
from gateway.rewrite.tags import Out, TagRewriter
from gateway.vendors import Catalogue
from gateway.vocabulary import NECESSARY

DEFAULT_MAX_CARRY: Final = 64 * 1024

# Filter states.
DATA, SCRIPT, RAWTEXT_STATE, STYLE, NOSCRIPT, COMMENT, BOGUS, CDATA, PLAINTEXT, TAGTAIL = range(10)

_RAWTEXT = frozenset(RAWTEXT)
_FONT_PICKER = tk.attr_picker(*FONT_BREAKOUT_ATTRS)
_ASCII_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CSP_NONCE = re.compile(rb"'nonce-([A-Za-z0-9+/=_\-]+)'")


@dataclass(frozen=True, eq=False)
class FilterPlan:
    """What to block for this response, decided before the body arrives.

    Compared by identity: plans are made once per consent class and reused, and they key the cache of
    rewritten pages, where hashing every field on every request would cost more than the lookup saves."""

    blocked: frozenset[str]  # categories the visitor has NOT granted
    catalogue: Catalogue
    first_party: frozenset[str]  # hosts of the site itself (lower case)
    head_html: str = ""  # injected before </head> (or at <body> start); "" = inject nothing (bots)
    body_html: str = ""  # injected right after <body ...> (at the end of a page without one): the no-JS form
    early_html: str = ""  # injected before the page's first <script> (or with head_html): Consent Mode defaults
    category_labels: tuple[tuple[str, str], ...] = ()  # category id -> its title in the page's language
    banner_path: str = ""  # a page that already loads a script with this in its src keeps its own (no head_html)
    nonce: bool = True  # copy the page's CSP nonce onto injected <script> tags
    placeholder: str = "{vendor}: blocked until you allow {category}. Load"  # last sentence = button label


def _meta_csp_nonce(tag: bytes) -> bytes | None:
    """The nonce in a <meta http-equiv="Content-Security-Policy"> tag, if any."""
    if tag.lower().find(b"content-security-policy") >= 0:
        m = _CSP_NONCE.search(tag)
        if m:
            return m.group(1)
    return None


def _breaks_out(name: bytes, tag: bytes) -> bool:
    """HTML start tags that end foreign content; <font> only with color, face or size."""
    if name == b"font":
        return bool(_FONT_PICKER(tag, 5))
    return name in BREAKOUT


class HtmlFilter:
    """One response's filter: ``feed`` chunks, then ``close`` once. Not shared between responses."""

    def __init__(self, plan: FilterPlan, encoding: str | None = None, max_carry: int = DEFAULT_MAX_CARRY):
        self._plan = plan
        blocked = frozenset(plan.blocked) - {NECESSARY}
        self._charset = PageCharset(encoding)
        self._max_carry = max_carry
        self._carry = b""
        self._open: OpenTag | None = None  # a tag still open at the end of the last chunk
        self._state = DATA
        self._end_name = b""  # element whose end tag closes RAWTEXT/RCDATA/STYLE/NOSCRIPT
        self._script_sub = 0  # 0 script data, 1 escaped, 2 double escaped
        self._placeholder = b""  # emitted after the blocked iframe's end tag
        self._foreign = 0  # depth of <svg>/<math>
        self._tail_state = ""
        self._tail_next = DATA
        self._inj = Injection(plan.head_html, plan.early_html, plan.body_html, plan.nonce, self._charset)
        self._closed = False
        # Nothing to block and nothing to inject; or a charset whose tags are not ASCII bytes (utf-16/32),
        # which this byte tokenizer cannot read: passed through untouched rather than corrupted.
        self._passthrough = (self._inj.idle and not blocked
                             or self._charset.wide)
        self._skip = tk.skip_after(plan.first_party, max_carry)
        self._tags = TagRewriter(plan.catalogue, blocked, plan.first_party, self._charset, max_carry,
                                 plan.placeholder, plan.category_labels)
        self._rewrite = self._tags.rewrite
        self._scripts = ScriptHolder(self._tags, plan.catalogue, blocked, max_carry)

    # -- public API -----------------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """Filter the next chunk; returns what can be sent now (possibly b"")."""
        if self._passthrough:
            return chunk
        self._charset.see(chunk)
        out: Out = []
        if self._open is not None:
            held = self._open.add(chunk, self._max_carry)
            if held is None:
                return b""
            (buf, complete), self._open = held, None
            if not complete:  # what a rescan would have found: still open, now past max_carry
                self._carry = buf
                self._overflow(out)
                return b"".join(out)
        else:
            buf = self._carry + chunk if self._carry else chunk
        pos = self._inj.lead(buf, out, final=False)
        if pos < 0:
            self._carry = buf
            return b""
        pos = self._process(buf, out, final=False, start=pos)
        self._carry = buf[pos:]
        if len(self._carry) > self._max_carry:
            self._overflow(out)
        elif self._state == DATA and (open_tag := OpenTag.of(self._carry)) is not None:
            self._open, self._carry = open_tag, b""
        return b"".join(out)

    def close(self) -> bytes:
        """Flush everything held back; call once, after the last chunk."""
        if self._closed or self._passthrough:
            return b""
        self._closed = True
        if self._open is not None:
            self._carry, self._open = self._open.held(), None
        buf, self._carry = self._carry, b""
        out: Out = []
        self._process(buf, out, final=True, start=self._inj.lead(buf, out, final=True))
        if self._scripts.holding:
            self._scripts.release(out)
        if self._placeholder:
            out.append(self._placeholder)
            self._placeholder = b""
        self._inj.content(out)
        return b"".join(out)

    # -- the state loop -----------------------------------------------------------------------------------

    def _process(self, buf: bytes, out: Out, final: bool, start: int = 0) -> int:
        mv = memoryview(buf)
        pos, n = start, len(buf)
        while pos < n:
            state = self._state
            new = self._HANDLERS[state](self, buf, mv, pos, out, final)
            if new == pos and self._state == state:
                break  # needs more data
            pos = new
        return pos

    def _data(self, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
        n = len(buf)
        while True:
            pending = not self._inj.injected or self._inj.body
            skip = tk.SKIP_BEFORE if pending else tk.SKIP_FOREIGN if self._foreign else self._skip
            end = skip.match(buf, pos).end()  # type: ignore[union-attr]
            if end > pos:
                out.append(mv[pos:end])
                pos = end
            if pos >= n:
                return pos
            if buf[pos] != 0x3C:  # non-blank text before the injection point: the banner goes first
                self._inj.content(out)
                continue
            new = self._at_lt(buf, pos, out)
            if new is None:
                if not final:
                    return pos
                self._inj.content(out)
                out.append(mv[pos:])  # unterminated at EOF: as is (browsers drop it)
                return n
            pos = new
            if self._state != DATA:
                return pos

    def _at_lt(self, buf: bytes, p: int, out: Out) -> int | None:
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
        self._inj.content(out)  # "<" that starts nothing is text, hence content
        out.append(b"<")
        return p + 1

    def _enter(self, state: int, buf: bytes, p: int, q: int, out: Out) -> int:
        if state == CDATA:  # CDATA text is content; comments and bogus comments are not
            self._inj.content(out)
        out.append(buf[p:q])
        self._state = state
        return q

    # -- tags ---------------------------------------------------------------------------------------------

    def _start_tag(self, m: re.Match[bytes], out: Out) -> int:
        tag = m.group()
        name = m.group(1).lower()
        name_end = m.end(1) - m.start()
        if self._foreign and _breaks_out(name, tag):
            self._foreign = 0  # an HTML tag closes every open <svg>/<math>
        if not self._inj.injected or self._inj.body:
            if name == b"meta" and self._inj.nonce is None and not self._inj.injected:
                self._inj.nonce = _meta_csp_nonce(tag)
            elif name not in HEAD_LEVEL and name != b"body":
                self._inj.content(out)
        if len(tag) > self._max_carry:
            self._oversized_start(name, tag, name_end, out)  # decided as if it had arrived in pieces
            return m.end()
        if name == b"script" and not self._foreign:
            self._inj.early(out)
            self._script_start(tag, name_end, out)
            return m.end()
        new, blocked_url, category = self._rewrite(name, tag, name_end)
        out.append(new)
        if name == b"body":
            self._inj.content(out)
        self._enter_content(name, tag)
        if self._state == RAWTEXT_STATE and name == b"iframe" and blocked_url and category:
            self._placeholder = self._tags.placeholder(category, blocked_url)
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
            self._state, self._end_name = RAWTEXT_STATE, name
        elif name == b"style":
            self._state, self._end_name = STYLE, name
        elif name == b"noscript":
            self._state, self._end_name = NOSCRIPT, name
        elif name == b"plaintext":
            self._state = PLAINTEXT

    def _end_tag(self, m: re.Match[bytes], out: Out) -> int:
        name = m.group(1).lower()
        if name == b"head":
            self._inj.head(out)
        elif name in (b"svg", b"math") and self._foreign:
            self._foreign -= 1
        out.append(m.group())
        return m.end()

    def _script_start(self, tag: bytes, name_end: int, out: Out) -> None:
        self._state, self._script_sub = SCRIPT, 0
        nonce, src = self._scripts.start(tag, name_end, out)
        if not self._inj.injected:
            if self._inj.nonce is None:
                self._inj.nonce = nonce or None
            if src is not None and self._plan.banner_path and self._plan.banner_path in src:
                self._inj.injected = True  # the page embeds the banner itself: never load it twice

    # -- text states ----------------------------------------------------------------------------------------

    def _script(self, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
        end, known, self._script_sub = tk.script_end(buf, pos, self._script_sub)
        n = len(buf)
        cut = end if end >= 0 else n if final else max(known, n - tk.SCRIPT_END_TAIL)
        self._scripts.add(mv[pos:cut], out)
        if end >= 0:
            if self._scripts.holding:
                self._scripts.release(out)
            self._state = DATA
        return cut

    def _rawtext(self, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
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

    def _style(self, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
        text, stop, ended = style_text(buf, pos, final, self._tags.blocked_category, self._charset.name)
        out.append(text)
        if ended:
            self._state = DATA
        return stop

    def _noscript(self, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
        m = tk.end_tag_search(b"noscript").search(buf, pos)
        limit = m.start() if m is not None else len(buf)
        stop = self._tags.rewrite_inner_tags(buf, pos, limit, out, known_end=m is not None or final)
        if m is not None:
            self._state = DATA
        return stop

    def _tagtail(self, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
        end, state = tk.tag_tail(buf, pos, self._tail_state)
        out.append(mv[pos:end])
        self._tail_state = state
        if state == "done":
            self._state = self._tail_next
        return end

    # -- a construct longer than max_carry --------------------------------------------------------------------

    def _overflow(self, out: Out) -> None:
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
            if (not self._inj.injected or self._inj.body) and name not in HEAD_LEVEL and name != b"body":
                self._inj.content(out)
            self._oversized_start(name, carry, name_end, out)
            self._tail_next = self._state
        _, self._tail_state = tk.tag_tail(carry, name_end, "tagname")
        self._state = TAGTAIL

    def _oversized_start(self, name: bytes, tag: bytes, name_end: int, out: Out) -> None:
        """A start tag longer than max_carry, whole or not: decided on its first max_carry bytes, so the
        outcome does not depend on where the chunks happened to split it; an inline script is not held."""
        script = name == b"script" and not self._foreign
        out.append(self._tags.decide_partial(name, tag, name_end, script))
        if script:
            self._state, self._script_sub = SCRIPT, 0
        else:
            self._enter_content(name, b"")

    _HANDLERS: dict[int, _Handler] = {}  # filled below, once the methods exist


_Handler = Callable[[HtmlFilter, bytes, memoryview, int, Out, bool], int]


def _plaintext(self: HtmlFilter, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
    """<plaintext> never ends: the rest of the page is text."""
    out.append(mv[pos:])
    return len(buf)


def _until(pattern: re.Pattern[bytes], keep: int) -> _Handler:
    """Handler for states that end at a fixed token and hold nothing to rewrite (comments, CDATA)."""

    def handler(self: HtmlFilter, buf: bytes, mv: memoryview, pos: int, out: Out, final: bool) -> int:
        m = pattern.search(buf, pos)
        if m is None:
            cut = len(buf) if final else max(pos, len(buf) - keep)
            out.append(mv[pos:cut])
            return cut
        out.append(mv[pos : m.end()])
        self._state = DATA
        return m.end()

    return handler


HtmlFilter._HANDLERS = {
    DATA: HtmlFilter._data,
    SCRIPT: HtmlFilter._script,
    RAWTEXT_STATE: HtmlFilter._rawtext,
    STYLE: HtmlFilter._style,
    NOSCRIPT: HtmlFilter._noscript,
    COMMENT: _until(tk.COMMENT_END, 3),
    BOGUS: _until(re.compile(rb">"), 0),
    CDATA: _until(re.compile(rb"]]>"), 2),
    PLAINTEXT: _plaintext,
    TAGTAIL: HtmlFilter._tagtail,
}
