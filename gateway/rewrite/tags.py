"""Start tags through the rules: read the attributes a rule names, ask the catalogue, rename what is blocked.

Blocked markup follows DESIGN.md: ``src``/``href``/``srcset``/``poster``/``data``/``style`` become
``data-consent-<name>`` and ``data-consent-category="<cat>"`` is added right after the tag name, so it wins over
a duplicate further on. Scripts also get ``type="text/plain"`` first, and their own ``type`` becomes
``data-consent-type``. Every duplicate of a blocked attribute is renamed, so the browser cannot fall back to a
second ``src``. A blocked iframe is hidden, and a placeholder goes after it.
"""

from __future__ import annotations

import html
import re

from gateway.rewrite import tokenizer as tk
from gateway.rewrite.charset import PageCharset
from gateway.rewrite.css import css_category
from gateway.rewrite.markup import placeholder_markup
from gateway.rewrite.rules import ANY_ATTRS, BACKGROUND, DOCUMENT, GATES, SRCSET, URL_ATTRS, Gate, executable, strictest
from gateway.vendors import Catalogue, split_url

Out = list[bytes | memoryview]

_STYLE_PICKER = tk.attr_picker(b"style")
# Per element of the rules: its URL attributes, a reader of the attributes rewrite() needs (those, style, and
# the one that decides whether it loads at all, rules.GATES; only these are tokenised out of the tag, see
# tk.attr_picker), and its gate. One lookup per tag; any other element can only load through style.
_ELEMENTS = {
    name: (urls, tk.attr_picker(*(a for a, _ in urls), b"style", *((GATES[name].attribute,) if name in GATES else ())),
           GATES.get(name))
    for name, urls in URL_ATTRS.items()
}
_Element = tuple[tuple[tuple[bytes, str], ...], tk.Picker, Gate | None]
_STYLE_ONLY: _Element = ((), _STYLE_PICKER, None)
# Any other element loads only through style or a lazy-loading attribute (rules.ANY_ATTRS); most carry none.
_ANY_ONLY: _Element = (ANY_ATTRS, tk.attr_picker(*(a for a, _ in ANY_ATTRS), b"style"), None)
_ANY_HINT = re.compile(b"(?i:" + b"|".join(re.escape(a) for a, _ in ANY_ATTRS) + b")[\t\n\f\r ]*=")
SCRIPT_PICKER = tk.attr_picker(b"type", b"src", b"nonce")
_SRCSET_URL = re.compile(r"(?:^|,)\s*([^\s,]\S*)")
# Absolute URLs anywhere in a srcdoc document (its tags, its styles, its scripts' strings).
_DOCUMENT_URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>)]*")
# A tag in which every URL is relative (no "//", no scheme, nothing escaped or disguised) cannot load from
# a third party. Most tags on a page are first-party images and links; this keeps them off the slow path.
_ABSOLUTE = re.compile(rb"//|[:\\&]|/[\t\n\r]")
_ASCII_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CACHE_SIZE = 256


def first_of(attrs: list[tk.Attr]) -> dict[bytes, tk.Attr]:
    """Attribute name -> its first occurrence, the one the browser uses."""
    first: dict[bytes, tk.Attr] = {}
    for a in attrs:
        first.setdefault(a.lname, a)
    return first


def rename(tag: bytes, name_end: int, attrs: list[tk.Attr], renames: set[bytes], insert: bytes) -> bytes:
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


def block_script(tag: bytes, name_end: int, attrs: list[tk.Attr], category: str, *urls: bytes) -> bytes:
    insert = b' type="text/plain" data-consent-category="' + category.encode() + b'"'
    return rename(tag, name_end, attrs, {b"type", *urls}, insert)


class TagRewriter:
    """One response's tag rewriting; remembers the category of the URLs it has seen (a page repeats them)."""

    def __init__(self, catalogue: Catalogue, blocked: frozenset[str], first_party: frozenset[str],
                 charset: PageCharset, max_carry: int, placeholder: str,
                 category_labels: tuple[tuple[str, str], ...]) -> None:
        self._catalogue = catalogue
        self._blocked = blocked
        self._first_party = first_party
        self._charset = charset
        self._max_carry = max_carry
        self._template = placeholder
        self._labels = category_labels
        self._url_categories: dict[str, str] = {}  # bounded
        self._placeholders: dict[tuple[str, str], bytes] = {}

    def rewrite(self, name: bytes, tag: bytes, name_end: int, partial: bool = False) -> tuple[bytes, str, str]:
        """(tag, first blocked URL, category); the tag unchanged unless something in it is blocked. ``partial``:
        the tag is cut, or is decided on its first max_carry bytes."""
        view = tag[: self._max_carry] if partial else tag
        entry = _ELEMENTS.get(name)
        if entry is None:
            entry = _ANY_ONLY if _ANY_HINT.search(view) else _STYLE_ONLY
        url_attrs, pick, gate = entry
        if _ABSOLUTE.search(view) is None or not url_attrs and (view.find(b"(") < 0 or view.lower().find(b"url(") < 0):
            return tag, "", ""  # every URL relative; or no URL attribute and no url()
        attrs = pick(view, name_end)
        first: dict[bytes, tk.Attr] = {}
        for a in attrs:
            first.setdefault(a.lname, a)
        if gate is not None and not gate.loads(self.value(first, gate.attribute, partial and gate.cut_value)):
            url_attrs = ()
        renames: set[bytes] = set()
        categories: list[str] = []
        blocked_url = ""
        for attr_name, kind in url_attrs:
            if attr_name not in first:
                continue
            text = self.value(first, attr_name, partial)
            if kind == BACKGROUND and "(" in text:
                category = css_category(text, self.blocked_category)
                if category:
                    renames.add(attr_name)
                    categories.append(category)
                continue
            if kind == DOCUMENT:
                urls = _DOCUMENT_URL.findall(text)
            else:
                urls = [u.rstrip(",") for u in _SRCSET_URL.findall(text)] if kind == SRCSET else [text]
            for url in urls:
                category = self.blocked_category(url)
                if category:
                    renames.add(attr_name)
                    categories.append(category)
                    blocked_url = blocked_url or url
        if b"style" in first:
            category = css_category(self.value(first, b"style", partial), self.blocked_category)
            if category:
                renames.add(b"style")
                categories.append(category)
        if not categories:
            return tag, "", ""
        category = strictest(categories)
        insert = b' data-consent-category="' + category.encode() + b'"'
        if name == b"iframe":
            # Hidden while blocked (the placeholder after it stands in); the banner restores the original style.
            if b"style" in first:
                renames.add(b"style")
            else:
                insert += b' data-consent-style=""'
            insert += b' style="display:none"'
        return rename(tag, name_end, attrs, renames, insert), blocked_url, category

    def decide_partial(self, name: bytes, carry: bytes, name_end: int, script: bool) -> bytes:
        """A start tag longer than max_carry, decided on its first max_carry bytes; ``script``: an HTML
        <script> (not one in foreign content)."""
        if script:
            attrs = SCRIPT_PICKER(carry[: self._max_carry], name_end)
            first = {a.lname: a for a in reversed(attrs)}
            if not executable(self.value(first, b"type", partial=True)):
                return carry
            if b"src" in first:
                category = self.blocked_category(self.value(first, b"src", partial=True))
                if category:
                    return block_script(carry, name_end, attrs, category, b"src")
            return carry
        return self.rewrite(name, carry, name_end, partial=True)[0]

    def rewrite_inner_tags(self, buf: bytes, pos: int, limit: int, out: Out, known_end: bool) -> int:
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
                pass  # would have been flushed unread had it arrived in pieces (see HtmlFilter._overflow)
            elif name in URL_ATTRS or m.group().lower().find(b"style") >= 0 or _ANY_HINT.search(m.group()):
                new, _, category = self.rewrite(name, m.group(), m.end(1) - m.start())
                if category:
                    out.append(buf[last:lt])
                    out.append(new)
                    last = m.end()
            i = after_tag = m.end()
        stop = limit if known_end else max(after_tag, limit - len(b"</noscript"))
        out.append(buf[last:stop])
        return stop

    def value(self, first: dict[bytes, tk.Attr], name: bytes, partial: bool = False) -> str:
        """Decoded, entity-unescaped value of the first attribute called ``name`` ("" if absent)."""
        attr = first.get(name)
        if attr is None or not attr.value:
            return ""
        raw = attr.value.lstrip(b"\"'") if partial else attr.value
        text = raw.decode("ascii") if raw.isascii() else raw.decode(self._charset.name, "replace")
        return html.unescape(text) if "&" in text else text

    def blocked_category(self, url: str) -> str:
        """The category that blocks ``url`` for this visitor, "" if it may load."""
        cached = self._url_categories.get(url)
        if cached is not None:
            return cached
        category = self._catalogue.category_for_url(url, self._first_party) if url else None
        result = category if category in self._blocked else ""
        if len(self._url_categories) >= _CACHE_SIZE:
            self._url_categories.clear()
        self._url_categories[url] = result or ""
        return result or ""

    def placeholder(self, category: str, url: str) -> bytes:
        """The placeholder that stands in for a blocked iframe loading ``url``."""
        key = (category, url)
        markup = self._placeholders.get(key)
        if markup is None:
            if len(self._placeholders) >= _CACHE_SIZE:
                self._placeholders.clear()
            parts = split_url(url)
            vendor = self._catalogue.vendor_for_url(url) if parts else None
            label = vendor.name if vendor else parts[0] if parts else url
            title = dict(self._labels).get(category, category)
            markup = placeholder_markup(self._template, label, category, title, self._charset.name)
            self._placeholders[key] = markup
        return markup
