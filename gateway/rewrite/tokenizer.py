"""Compiled patterns for the streaming HTML filter, after the WHATWG tokenizer.

Everything works on bytes: tag syntax is ASCII in every ASCII-compatible charset (utf-8, windows-1251,
koi8-r, latin-1), so the page is never decoded. The patterns are quote-aware the way the tokenizer is:
a quote opens an attribute value only right after ``name =``; elsewhere it is an ordinary character.
Which elements and attributes matter comes from ``rules``, so the fast paths know every rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import NamedTuple

from gateway.rewrite.rules import ANY_ATTRS, BREAKOUT, LOADING, RAWTEXT, URL_ATTR_NAMES

_WS = rb"\t\n\f\r "  # HTML whitespace; \v is not in it
_NAME = rb"[a-zA-Z][^\t\n\f\r />]*+"
# An attribute value after "=" (and optional whitespace): quoted, unquoted, or empty right before ">".
# The unquoted form never starts with a quote, so an unterminated quoted value makes the tag incomplete
# instead of being re-read as something else.
_VALUE = rb"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|(?=>))"
# A name may start with "=" (<a =x>); after the name, "=" must be followed by a value or the attribute
# (and so the tag) does not match yet.
_ATTR = rb"[^\t\n\f\r />][^\t\n\f\r />=]*+(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+" + _VALUE + rb"|(?![\t\n\f\r ]*=))"
_ATTRS = rb"(?:[\t\n\f\r /]++|" + _ATTR + rb")*+"
_ATTRS_NO_STYLE = rb"(?:[\t\n\f\r /]++|(?!(?i:style)[\t\n\f\r />=])" + _ATTR + rb")*+"

START_TAG = re.compile(rb"<(" + _NAME + rb")" + _ATTRS + rb">")
END_TAG = re.compile(rb"</(" + _NAME + rb")" + _ATTRS + rb">")
TAG_NAME = re.compile(_NAME)

# Elements the filter must look at after the banner is injected: ones that load a URL (rules.LOADING), ones
# that switch the tokenizer into another state, and svg/math (CDATA sections are real only in foreign content).
STATEFUL = (b"style", *(n for n in RAWTEXT if n not in LOADING), b"noscript", b"plaintext", b"svg", b"math")
# Before the injection point every start tag matters (the first body content is where the banner goes),
# except these, which can open a document without being content (unless a rule makes them load).
SKIPPED_BEFORE_INJECTION = tuple(n for n in (b"html", b"head", b"base") if n not in LOADING)


def _names(names: tuple[bytes, ...]) -> bytes:
    """Case-insensitive alternation of lower-case names (always followed by a delimiter check), grouped
    by first letter as ``[dD](?i:iv|l)``: sre rejects a character class at a glance, not (?i:d)."""
    groups: dict[bytes, list[bytes]] = {}
    for name in sorted(set(names), key=len, reverse=True):
        groups.setdefault(name[:1], []).append(re.escape(name[1:]))
    return b"(?:" + b"|".join(
        b"[" + first + first.upper() + b"](?i:" + b"|".join(rest) + b")" for first, rest in groups.items()
    ) + b")"


_COMMENT = rb"<!--(?:-?>|[\s\S]*?--!?>)"
_DECL = rb"<!(?!--|\[CDATA\[)[^>]*+>"  # doctype and bogus comments: up to the first ">"
_PI = rb"<\?[^>]*+>"
_BOGUS_END = rb"</(?![a-zA-Z])[^>]*+>"
_LT_TEXT = rb"<(?=[^a-zA-Z/!?])"  # a "<" that starts nothing; needs the next byte to be known


def _skip(*alternatives: bytes) -> re.Pattern[bytes]:
    """Text runs, and constructs that each start with "<". The "<" is matched once and the alternatives
    after it mostly begin with a distinct literal, which sre rejects at a glance; end tags, about half of
    all tags, come first."""
    assert all(a.startswith(b"<") for a in alternatives)
    return re.compile(rb"(?:[^<]++|<(?:" + b"|".join(a[1:] for a in alternatives) + rb"))*+")


def _trie(names: tuple[bytes, ...]) -> bytes:
    """Lower-case alternation grouped by first letter: sre tries alternatives one by one, so this is
    several times faster than a flat (?i:...) list at every "<" of the page."""
    groups: dict[bytes, list[bytes]] = {}
    for name in sorted(names, key=len, reverse=True):
        groups.setdefault(name[:1], []).append(re.escape(name[1:]))
    return b"(?:" + b"|".join(first + b"(?:" + b"|".join(rest) + b")" for first, rest in groups.items()) + b")"


# The fast path for a tag that needs no attention: a lower-case name, no "style=" attribute, and quotes
# only right after "name=" (the "=" preceded by a name character). Anything unusual (upper case,
# "name =", stray quotes, "=" after a quoted value) falls out of it and is read exactly by START_TAG/END_TAG
# in Python, so the shortcut never decides differently from the tokenizer where a tag ends.
def _not_before(names: tuple[bytes, ...]) -> bytes:
    """A lookbehind refusing an "=" right after the last three characters of any of ``names`` (any case). Most
    attribute names end in another letter, so one character class settles them; only the rest pay for the
    alternation. A name that merely ends alike (charset) is read by the second chance below, which is exact."""

    def ci(c: int) -> bytes:
        ch = bytes([c])
        return b"[" + ch + ch.upper() + b"]" if ch.isalpha() else re.escape(ch)

    ends = sorted({name[-3:] for name in names})
    last = b"".join(sorted({bytes([e[-1]]) for e in ends} | {bytes([e[-1]]).upper() for e in ends}))
    full = b"|".join(b"".join(ci(c) for c in end) for end in ends)
    return rb"(?:(?<![" + re.escape(last) + rb"])|(?<!" + full + rb"))"


# Attributes any element may load from (rules.ANY_ATTRS): a tag carrying one leaves the boring fast path.
_ANY_NAMES = tuple(a for a, _ in ANY_ATTRS)
_BORING_ATTRS = (
    rb"[^>\"'=]*+(?:(?<=[^\t\n\f\r /\"'])(?<![sS][tT][yY][lL][eE])" + _not_before(_ANY_NAMES) + rb"=[\t\n\f\r ]*+"
    rb"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >\"']*+)[^>\"'=]*+)*+>"
)
_BORING_NAME = rb"[a-z][a-z0-9\-]*+(?=[\t\n\f\r />])"
_BORING_ATTRS_NO_GT = _BORING_ATTRS.replace(rb"\"[^\"]*+\"|'[^']*+'", rb"\"[^\">]*+\"|'[^'>]*+'")
assert _BORING_ATTRS_NO_GT != _BORING_ATTRS

# Loading elements whose every value is plainly relative (no "//", ":", "\\", "&", tab or newline, so no
# scheme, host or disguise) cannot reach a third party and need no Python either: first-party images are
# the commonest "interesting" tag on a page. Not <script> (held, and early_html goes before it), nor <iframe>
# (taken whole with its raw text below), nor the rare <frame>.
_RELATIVE_LOADING = tuple(n for n in LOADING if n not in (b"script", b"iframe", b"frame"))
# Loading elements met inside <svg> (lower-case spellings; <feImage> as written goes to Python).
_SVG_LOADING = tuple(n for n in (b"use", b"image", b"feimage") if n in LOADING)


def _relative_values(first_party: bytes, no_gt: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """Double-quoted, single-quoted and unquoted values that are relative URLs, or absolute on a first-party
    host when ``first_party`` (an alternation of escaped host names, suffix-matched) is given: WordPress and
    friends write every image URL in full, and those tags should not cost a trip through Python either.
    ``no_gt=b">"`` keeps ">" out of quoted values."""
    extra = b""
    if first_party:
        host = rb"//(?:[a-z0-9\-]+\.)*(?:" + first_party + rb")(?=[/?#\"' ,>\t\n\f\r])"
        extra = rb"|(?:(?<=http)|(?<=https)):" + host + rb"|" + host
    dq = rb"\"(?:[^\"" + no_gt + rb"/:\\&\t\n\r]++|/(?![/\t\n\r])" + extra + rb")*+\""
    sq = rb"'(?:[^'" + no_gt + rb"/:\\&\t\n\r]++|/(?![/\t\n\r])" + extra + rb")*+'"
    uq = rb"(?:[^\t\n\f\r >\"'/:\\&]++|/(?!/)" + extra + rb")++"
    return dq, sq, uq


def _relative_attrs(first_party: bytes, no_gt: bytes = b"") -> bytes:
    """Attributes whose values are all relative URLs (see _relative_values), read like _BORING_ATTRS."""
    dq, sq, uq = _relative_values(first_party, no_gt)
    return (
        rb"[^>\"'=:\\&]*+(?:(?<=[^\t\n\f\r /\"'])(?<![sS][tT][yY][lL][eE])=[\t\n\f\r ]*+"
        rb"(?:" + dq + rb"|" + sq + rb"|" + uq + rb")[^>\"'=:\\&]*+)*+>"
    )


# The second chance for a tag that the fast patterns above turn down (a style attribute, a ":" in sizes= or
# alt=, upper case, "name =" ...): its attributes are read one by one exactly the way START_TAG reads them,
# so the tag ends where the tokenizer says; a style value must be inert (no "url(", and no "@" or "&" that
# could spell an @import or an escaped url) and on a loading element every attribute that can hold a URL
# must be relative. Quoted values may not contain ">", so the tag ends at its first ">", and a lookahead
# keeps the tag within max_carry bytes: a longer one is decided by Python on its beginning, never here.
_URL_NAMES = rb"(?i:" + b"|".join(re.escape(n) for n in URL_ATTR_NAMES) + rb")"  # every attribute in rules.LOADS
_ANY_URL_NAMES = rb"(?i:" + b"|".join(re.escape(n) for n in sorted(_ANY_NAMES, key=len, reverse=True)) + rb")"
_NAME_ENDS = rb"(?![^\t\n\f\r />=])"
_DELIM = rb"(?=[\t\n\f\r />])"
_VALUE_NO_GT = rb"\"[^\">]*+\"|'[^'>]*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+"
_NOT_URL = rb"[uU](?!(?i:rl\())"
_INERT_STYLE = (
    rb"\"(?:[^\">&@uU]++|" + _NOT_URL + rb")*+\"|'(?:[^'>&@uU]++|" + _NOT_URL + rb")*+'"
    rb"|(?![\"'])(?:[^\t\n\f\r >&@uU]++|" + _NOT_URL + rb")++(?![^\t\n\f\r >])"
)


def _named_attr(name: bytes, value: bytes) -> bytes:
    """One attribute called ``name`` (a whole attribute name) whose value, if it has one, is ``value``."""
    return (
        name + _NAME_ENDS + rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:" + value + rb"|(?=>))|(?![\t\n\f\r ]*=))"
    )


def _checked_attrs(url_value: bytes | None = None, any_value: bytes | None = None) -> bytes:
    """The attributes of a tag and its ">", checked as described above; ``url_value`` on loading elements,
    ``any_value`` for the lazy-loading attributes every element may carry (without it, such a tag is refused)."""
    special, checked = rb"(?i:style)", [_named_attr(rb"(?i:style)", _INERT_STYLE)]
    if url_value is not None:
        special = rb"(?:(?i:style)|" + _URL_NAMES + rb")"
        checked.append(_named_attr(_URL_NAMES, url_value))
    else:
        special = rb"(?:(?i:style)|" + _ANY_URL_NAMES + rb")"
        if any_value is not None:
            checked.append(_named_attr(_ANY_URL_NAMES, any_value))
    other = rb"(?!" + special + _NAME_ENDS + rb")" + _named_attr(rb"[^\t\n\f\r />][^\t\n\f\r />=]*+", _VALUE_NO_GT)
    return rb"(?:[\t\n\f\r /]++|" + b"|".join([*checked, other]) + rb")*+>"


def _raw_until(name: bytes, text: bytes = rb"[^<]") -> bytes:
    """The text of a raw-text element up to (not including) its end tag, which must be in the buffer: the
    element is then taken whole or not at all, and its end tag is read as an ordinary boring end tag."""
    end = rb"</(?i:" + name + rb")[\t\n\f\r />]"
    return rb"(?:" + text + rb"++|<(?!" + end[1:] + rb"))*+(?=" + end + rb")"


# CSS text in which the filter finds nothing to rewrite: no "url(" and no "@import" anywhere.
_INERT_CSS = rb"(?:[^<@uU]|@(?!(?i:import))|[uU](?!(?i:rl\()))"


# Text and complete tags that need no attention, consumed inside the regex engine. It stops at a "<"
# that needs Python (an interesting or incomplete construct) or at the end of the buffer. Raw-text
# elements that cannot be rewritten (textarea and title, first-party iframes, style blocks with no url()
# or @import) are taken with their text when their end tag is already in the buffer, and so is a whole
# inline <svg> (an icon) made of elements that neither load anything nor end foreign content.
def _skip_after(first_party: bytes, max_carry: int) -> re.Pattern[bytes]:
    dq, sq, uq = _relative_values(first_party, b">")
    relative = dq + rb"|" + sq + rb"|" + uq + rb"(?![^\t\n\f\r >])"
    loading_attrs = _checked_attrs(relative)
    plain_attrs = rb"(?:" + _BORING_ATTRS_NO_GT + rb"|" + _checked_attrs(any_value=relative) + rb")"

    def bounded(name_len: int) -> bytes:
        """After "<" and a name of at most ``name_len`` bytes: the tag's first ">" is within max_carry."""
        return rb"(?=[^>]{0,%d}>)" % max(0, max_carry - 2 - name_len)

    # Inside <svg>: what SKIP_FOREIGN skips, and start tags Python would pass unchanged (no breakout tag,
    # no nested svg/math, nothing that loads) up to the </svg> that ends foreign content.
    foreign_start = rb"<(?!" + _names((*BREAKOUT, b"font", b"svg", b"math", *LOADING)) + rb"[\t\n\f\r />])"
    foreign_start += rb"[a-zA-Z](?=[^>]{0,%d}>)" % max(0, max_carry - 3) + rb"[^\t\n\f\r />]*+" + plain_attrs
    # SVG elements that load (icons' <use href="#icon">, sprites on the site itself): whole when every value is
    # relative or first-party, like the loading elements outside.
    foreign_loading = rb"<" + _trie(_SVG_LOADING) + _DELIM + bounded(7) + _relative_attrs(first_party, b">")
    foreign = rb"(?:[^<]++|<(?:" + b"|".join(a[1:] for a in (foreign_start, foreign_loading, *_FOREIGN)) + rb"))*+"
    return _skip(
        rb"</(?!(?:svg|math)[\t\n\f\r />])" + _BORING_NAME + rb"[\t\n\f\r ]*+>",
        _BOGUS_END,
        rb"<(?!" + _trie((*LOADING, *STATEFUL)) + rb"[\t\n\f\r />])" + _BORING_NAME + _BORING_ATTRS,
        rb"<" + _trie(_RELATIVE_LOADING) + _DELIM + _relative_attrs(first_party),
        # Second chances for what the fast forms turned down: lower-case names, checked before the bound (a
        # name of up to 63 bytes; <body> is left to Python, which puts pending early_html there).
        rb"<(?!" + _trie((*LOADING, *STATEFUL, b"body")) + rb"[\t\n\f\r />])[a-z][a-z0-9\-]{0,62}+"
        + _DELIM + bounded(63) + _checked_attrs(any_value=relative),
        rb"<" + _trie(_RELATIVE_LOADING) + _DELIM + bounded(6) + loading_attrs,
        rb"</(?!" + _names((b"svg", b"math", b"head")) + rb"[\t\n\f\r />])" + _NAME + _ATTRS + rb">",
        # Raw text and foreign content, whole.
        rb"<textarea" + _DELIM + bounded(8) + plain_attrs + _raw_until(b"textarea"),
        rb"<title" + _DELIM + bounded(5) + plain_attrs + _raw_until(b"title"),
        rb"<iframe" + _DELIM + bounded(6) + _relative_attrs(first_party, b">") + _raw_until(b"iframe"),
        rb"<style" + _DELIM + bounded(5) + plain_attrs + _raw_until(b"style", _INERT_CSS),
        rb"<svg" + _DELIM + bounded(3) + plain_attrs + rb"(?:(?<=/>)|" + foreign + rb"</(?i:svg)[\t\n\f\r ]*+>)",
        _LT_TEXT,
        _COMMENT,
        _DECL,
        _PI,
    )


@functools.lru_cache(maxsize=64)
def skip_after(first_party: frozenset[str], max_carry: int) -> re.Pattern[bytes]:
    """The skip pattern once the banner is in. Loading tags whose absolute URLs are on the site's own hosts
    pass too (lower-case ASCII spelling only; anything else still goes to Python, which is exact)."""
    hosts = sorted(h.lower() for h in first_party if h.isascii() and h)
    return _skip_after(b"|".join(re.escape(h.encode("ascii")) for h in hosts), max_carry)


# Before injection only whitespace, comments, doctype and the document's opening tags are skipped.
SKIP_BEFORE = re.compile(
    rb"(?:[\t\n\f\r ]++|"
    + b"|".join(
        (
            rb"<" + _names(SKIPPED_BEFORE_INJECTION) + rb"(?=[\t\n\f\r />])" + _ATTRS_NO_STYLE + rb">",
            rb"</(?!" + _names((b"head", b"svg", b"math")) + rb"[\t\n\f\r />])" + _NAME + _ATTRS + rb">",
            _COMMENT,
            _DECL,
            _PI,
            _BOGUS_END,
        )
    )
    + rb")*+"
)

# Inside <svg>/<math> every start tag goes to Python, which watches for the HTML tags that end foreign
# content ("breakout" tags such as <p> or <div>); inline SVG is small, so the slower path costs little.
_FOREIGN = (
    rb"</(?!" + _names((b"svg", b"math")) + rb"[\t\n\f\r />])" + _NAME + _ATTRS + rb">",
    _LT_TEXT,
    _COMMENT,
    _DECL,
    _PI,
    _BOGUS_END,
)
SKIP_FOREIGN = _skip(*_FOREIGN)

# Script data: "<!--" enters the escaped state, where "<script" enters the double-escaped state, in which
# "</script" is not the end; "-->" leaves both.
SCRIPT_DATA = re.compile(rb"<!--|</(?i:script)[\t\n\f\r />]")
SCRIPT_ESCAPED = re.compile(rb"-->|</(?i:script)[\t\n\f\r />]|<(?i:script)[\t\n\f\r />]")
SCRIPT_DOUBLE_ESCAPED = re.compile(rb"-->|</(?i:script)[\t\n\f\r />]")
SCRIPT_END_TAIL = 8  # len(b"</script"): a partial end tag can hide in this many trailing bytes
_SCRIPT_STATES = (SCRIPT_DATA, SCRIPT_ESCAPED, SCRIPT_DOUBLE_ESCAPED)


def script_end(buf: bytes, pos: int, sub: int) -> tuple[int, int, int]:
    """Read script data from ``pos`` in sub-state ``sub`` (0 data, 1 escaped, 2 double escaped): returns the
    offset of its "</script" end tag (-1 if not in ``buf``), how far the sub-state is known, and the sub-state."""
    i = pos
    while True:
        m = _SCRIPT_STATES[sub].search(buf, i)
        if m is None:
            return -1, i, sub
        tok = m.group()
        if tok == b"-->":
            sub, i = 0, m.end()
        elif tok.startswith(b"<!"):
            sub, i = 1, m.end() - 2  # the dashes of "<!--" count towards "-->": "<!-->" closes at once
        elif tok[1] == 0x2F:  # "</script"
            if sub != 2:
                return m.start(), i, sub
            sub, i = 1, m.end() - 1
        else:  # "<script" inside an escaped section
            sub, i = 2, m.end() - 1
COMMENT_END = re.compile(rb"--!?>")

_END_TAGS: dict[bytes, re.Pattern[bytes]] = {}


def end_tag_search(name: bytes) -> re.Pattern[bytes]:
    """The 'appropriate end tag' that closes a RAWTEXT/RCDATA element: ``</name`` + whitespace, / or >."""
    pattern = _END_TAGS.get(name)
    if pattern is None:
        pattern = _END_TAGS[name] = re.compile(rb"</(?i:" + re.escape(name) + rb")[\t\n\f\r />]")
    return pattern


class Attr(NamedTuple):
    """One attribute of a complete tag: lower-cased name, offset of the name in the tag, raw value."""

    lname: bytes
    start: int
    value: bytes | None  # None without "="


_make_attr = Attr._make  # tuple.__new__ underneath: a third of the cost of calling Attr(...)

_NAME_CHAR = rb"[^\t\n\f\r />=]"
_ANY_ATTR = (
    rb"[^\t\n\f\r />]" + _NAME_CHAR + rb"*+(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+))?+"
)


Picker = Callable[[bytes, int], list[Attr]]  # (start tag, offset after its name) -> the wanted attributes


@functools.lru_cache(maxsize=64)
def attr_picker(*names: bytes) -> Picker:
    """A reader of a start tag's attributes called ``names`` (lower case), in order, duplicates included
    (the browser keeps the first; a rename must reach every one).

    One regex match per wanted attribute: the attributes before it are tokenised inside the regex engine
    (whitespace and "/" between attributes, a quote opening a value only after "="), so a wanted name
    inside another attribute's value is never taken for one, and the others cost no Python at all."""
    wanted = rb"(?i:" + b"|".join(re.escape(n) for n in names) + rb")(?!" + _NAME_CHAR + rb")"
    pattern = re.compile(
        rb"(?:[\t\n\f\r />]++|(?!" + wanted + rb")" + _ANY_ATTR + rb")*+(" + wanted + rb")"
        rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"([^\"]*+)\"|'([^']*+)'|([^\t\n\f\r >]*+)))?+"
    )
    match = pattern.match

    def pick(tag: bytes, name_end: int) -> list[Attr]:
        end = len(tag) - 1 if tag.endswith(b">") else len(tag)
        attrs = []
        m = match(tag, name_end, end)
        while m is not None:
            name, dq, sq, uq = m.groups()
            value = dq if dq is not None else sq if sq is not None else uq
            attrs.append(_make_attr((name.lower(), m.start(1), value)))
            m = match(tag, m.end(), end)
        return attrs

    return pick


# -- the rest of a tag too long to hold: a small state machine that only finds where the tag ends ------------

_RUNS = {
    "tagname": re.compile(rb"[^\t\n\f\r />]*"),
    "before": re.compile(rb"[\t\n\f\r /]*"),
    "name": re.compile(rb"[^\t\n\f\r />=]*"),
    "after": re.compile(rb"[\t\n\f\r ]*"),
    "bval": re.compile(rb"[\t\n\f\r ]*"),
    "dq": re.compile(rb"[^\"]*"),
    "sq": re.compile(rb"[^']*"),
    "unq": re.compile(rb"[^\t\n\f\r >]*"),
}


def _next_state(state: str, c: int) -> str:
    """Tokenizer transition on the byte that ended a run; "done" once the tag's ">" is consumed."""
    if state in ("dq", "sq"):
        return "before"
    if c == 0x3E:  # ">"
        return "done"
    if state == "tagname":
        return "before"
    if state == "before":
        return "name"  # any other byte, "=" included, starts a name
    if state == "name":
        return "bval" if c == 0x3D else "before" if c == 0x2F else "after"
    if state == "after":
        return "bval" if c == 0x3D else "before" if c == 0x2F else "name"
    if state == "bval":
        return "dq" if c == 0x22 else "sq" if c == 0x27 else "unq"
    return "before"  # unq ended by whitespace


def tag_tail(buf: bytes, pos: int, state: str) -> tuple[int, str]:
    """Advance through a tag from ``state``; returns (position, state), state "done" after its ">"."""
    n = len(buf)
    while pos < n:
        pos = _RUNS[state].match(buf, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            break
        state = _next_state(state, buf[pos])
        pos += 1
        if state == "done":
            break
    return pos, state
