"""``<script>`` elements: the opening tag decided on its type and src, an inline one held until its body is known.

An inline script's opening tag and body are held (at most ``max_carry`` bytes) until the end tag, so the tag can
still be rewritten if the body loads a blocked vendor: it carries a vendor's loader signature, or a string
literal holding a catalogue vendor's script or pixel URL (``s.src = "https://mc.yandex.ru/metrika/tag.js"``,
``document.write('<img src="https://vk.com/rtrg?p=1">')``). Calls on a vendor's global (``fbq('track')``,
``ym(1, 'reachGoal')``) and mere links to a vendor's site load nothing and stay. A longer script is decided on
its first ``max_carry`` bytes and streamed from there. A script matching several vendors is labelled with the
strictest blocked category (marketing > analytics > preferences). Speculation rules (``<script
type="speculationrules">``) naming a blocked host are blocked too: the browser would prefetch or prerender it.
"""

from __future__ import annotations

import functools
import re

from gateway.rewrite.rules import executable, strictest
from gateway.rewrite.tags import SCRIPT_PICKER, Out, TagRewriter, block_script, first_of
from gateway.vendors import REGEX_BODY_LIMIT, Catalogue

# A URL at the start of a string literal (or of an attribute value inside one): quote or "=", then the scheme or
# "//", then the host and path, with "\/" as JSON writes "/".
_URL_LITERAL = re.compile(rb"""(?<=["'`=])((?:https?:)?(?:\\?/){2}[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?"""
                          rb"""(?:\\?/[^\s"'`<>\\]*)*)""")
# What makes a vendor URL a script or a pixel rather than a link to a page: a script or image file, or a
# collection endpoint.
_LOADS = re.compile(r"\.(?:js|mjs|gif|png|jpe?g|webp|svg)(?:[?#]|$)|/(?:tr|rtrg|watch|collect|pixel|px|event|"
                    r"events|track|tracking|counter|hit|beacon|analytics|tag|tags|metrika|gtm|gtag|sdk|insight|"
                    r"pagead|conversion|i)(?:[/?.#]|$)", re.IGNORECASE)
SPECULATION_RULES = "speculationrules"
_URL_CACHE = 256


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


class ScriptHolder:
    """The scripts of one response; at most one inline script is held at a time (scripts do not nest)."""

    def __init__(self, tags: TagRewriter, catalogue: Catalogue, blocked: frozenset[str], max_carry: int) -> None:
        self._tags = tags
        self._catalogue = catalogue
        self._blocked = blocked
        self._max_carry = max_carry
        self.holding = False
        self._parts: list[bytes] = []
        self._size = 0
        self._tag = b""
        self._name_end = 0
        self._speculation = False
        self._url_literals: dict[tuple[bytes, bool], str] = {}  # a page repeats its URLs

    def start(self, tag: bytes, name_end: int, out: Out) -> tuple[bytes | None, str | None]:
        """An HTML <script> start tag: sent on (rewritten if its src is blocked), or held if inline and
        executable. Returns its nonce attribute's value and, if it runs from a src, that src."""
        attrs = SCRIPT_PICKER(tag, name_end)
        first = first_of(attrs)
        nonce = first[b"nonce"].value if b"nonce" in first else None
        script_type = self._tags.value(first, b"type")
        self._speculation = script_type.strip().lower() == SPECULATION_RULES
        if not executable(script_type) and not self._speculation:
            out.append(tag)  # JSON-LD, importmap, templates: data, never executed
            return nonce, None
        if b"src" in first:
            src = self._tags.value(first, b"src")
            category = self._tags.blocked_category(src)
            out.append(block_script(tag, name_end, attrs, category, b"src") if category else tag)
            return nonce, src
        self.holding, self._parts, self._size = True, [], 0
        self._tag, self._name_end = tag, name_end
        return nonce, None

    def add(self, body: memoryview, out: Out) -> None:
        """The script's next body bytes: held, or sent on if nothing is held."""
        if not self.holding:
            out.append(body)
            return
        self._parts.append(bytes(body))
        self._size += len(body)
        if self._size > self._max_carry:
            self.release(out)  # decided on what we have; the rest streams

    def release(self, out: Out) -> None:
        """Emit the held script, its opening tag rewritten if the body names a blocked vendor."""
        assert self.holding
        body = b"".join(self._parts)
        # Only the first max_carry bytes decide, however the body was chunked.
        head = body[: self._max_carry]
        if self._speculation:
            categories = self._urls(head, any_host=True)
        else:
            signatures, category_of = _inline_signatures(self._catalogue)
            if len(head) > REGEX_BODY_LIMIT or signatures is None:
                categories = {v.category for v in self._catalogue.vendors_for_inline_bytes(head)}
            else:
                categories = {category_of[s] for s in signatures.findall(head)}
            categories = (categories & self._blocked) | self._urls(head)
        tag = self._tag
        if categories:
            attrs = SCRIPT_PICKER(tag, self._name_end)
            tag = block_script(tag, self._name_end, attrs, strictest(categories))
        out.append(tag)
        out.append(body)
        self.holding, self._parts = False, []

    def _urls(self, text: bytes, any_host: bool = False) -> set[str]:
        """Blocked categories of the URLs in the script's string literals: catalogue vendors' scripts and pixels,
        or (``any_host``, speculation rules) every URL the browser would fetch."""
        if text.find(b"//") < 0:  # find, not `in` (see gateway.headers)
            return set()
        found: set[str] = set()
        seen = self._url_literals
        for m in _URL_LITERAL.finditer(text):
            raw = m.group(1)
            key = (raw, any_host)
            category = seen.get(key)
            if category is None:
                url = raw.replace(b"\\/", b"/").decode("ascii", "replace")
                loads = any_host or (_LOADS.search(url) is not None and self._catalogue.vendor_for_url(url) is not None)
                category = seen[key] = self._tags.blocked_category(url) if loads else ""
                if len(seen) > _URL_CACHE:
                    seen.clear()
            if category:
                found.add(category)
        return found
