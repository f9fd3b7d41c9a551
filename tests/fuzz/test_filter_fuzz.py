"""The HTML filter under generated input: it never raises, chunking never changes the output, and it only inserts.

Inputs are arbitrary bytes and HTML-ish soup: tags from a vocabulary (script, style, iframe, img, svg, noscript,
link, base ..., comments, a doctype, a BOM) with src/href/data-src/srcset/style attributes naming trackers,
catalogue vendors and first-party URLs, quoted or not, and stray text.

"Only inserts" is checked this way. The soup never contains ``data-consent``, ``consent-placeholder``,
``consent-blocked``, ``display:none``, nonces or the injected markers, and ``<style>`` blocks write URLs as
``url(X)`` only. Then everything the filter adds can be recognised and taken out again: the injected head/body/
early markup (exact strings; nonce copying is off), iframe placeholders, the attributes put after a tag name
(`` type="text/plain"``, `` data-consent-category="..."``, `` data-consent-style=""``, `` style="display:none"``),
the ``data-consent-`` prefix of renamed attributes, and a style block's ``url("data:,")/*consent-blocked:C:X*/``
turned back into ``url(X)``. What is left must be the input, byte for byte: nothing outside a rewritten tag
changed, and inside one nothing but those insertions. With nothing blocked and nothing injected the output is
the input itself.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from gateway.rewrite import FilterPlan, HtmlFilter
from tests.rewrite.conftest import NOTHING_GRANTED, plan

HEAD = '<script src="/_consent/banner.js" defer></script><!--HEAD-->'
BODY = "<noscript><p>BODY-FORM</p></noscript>"
EARLY = "<script>/*EARLY*/</script>"
PLANS = {
    "pass-through": plan(frozenset()),
    "inject only": plan(frozenset(), head_html=HEAD, body_html=BODY, early_html=EARLY, nonce=False),
    "block only": plan(NOTHING_GRANTED, nonce=False),
    "block marketing": plan({"marketing"}, head_html=HEAD, nonce=False),
    "block and inject": plan(NOTHING_GRANTED, head_html=HEAD, body_html=BODY, early_html=EARLY, nonce=False),
}
plans = st.sampled_from(sorted(PLANS)).map(PLANS.__getitem__)

URLS = [
    "https://tracker.example/p.gif", "//tracker.example/x.js", "https://www.googletagmanager.com/gtm.js?id=G",
    "https://mc.yandex.ru/metrika/tag.js", "https://connect.facebook.net/en_US/fbevents.js",
    "https://www.youtube.com/embed/abc", "https://www.google-analytics.com/collect", "https://wgp.kz/img.png",
    "/local.png", "img/a.jpg", "data:image/gif;base64,R0lG", "https://cdnjs.cloudflare.com/lib.js",
    "HTTPS://TRACKER.EXAMPLE/Y", "https:&#x2F;&#x2F;tracker.example/e", " https://tracker.example/sp ",
]
ELEMENTS = ["script", "img", "iframe", "link", "style", "svg", "use", "image", "noscript", "div", "body", "head",
            "html", "base", "source", "video", "object", "embed", "input", "p", "a", "td", "math", "title",
            "textarea", "template", "meta", "span", "frame", "feimage", "font", "plaintext"]
ATTRS = ["src", "href", "data-src", "srcset", "data-srcset", "style", "type", "rel", "background", "data-bg",
         "poster", "data", "srcdoc", "xlink:href", "id", "class", "async", "data-lazy-src", "imagesrcset", "color"]
TYPES = ["text/javascript", "module", "application/ld+json", "text/plain", "speculationrules", ""]
RELS = ["stylesheet", "preload", "icon", "canonical", "dns-prefetch"]
TEXTS = ["hello", " ", "\n", "<", ">", "&amp;", "a < b", "</", "<!", "<?x", "]]>", "-->", "'", '"', "=",
         "\u00e9", "\u0436", "fbq('track')", 's.src="https://mc.yandex.ru/metrika/tag.js"', "url(", "</scr", "ipt>"]


def _value(draw: st.DrawFn, name: str) -> str:
    if name == "style":
        return draw(st.sampled_from(["color:red", "background:url({u})", "background-image:url('{u}')",
                                     "x:url(\"{u}\")"])).format(u=draw(st.sampled_from(URLS)))
    if name == "type":
        return draw(st.sampled_from(TYPES))
    if name == "rel":
        return draw(st.sampled_from(RELS))
    if name in ("srcset", "data-srcset", "imagesrcset"):
        return ", ".join(f"{u} {i + 1}x" for i, u in enumerate(draw(st.lists(st.sampled_from(URLS), max_size=3))))
    if name == "srcdoc":
        return f"&lt;img src=&quot;{draw(st.sampled_from(URLS))}&quot;&gt;"
    if name in ("id", "class", "async", "color"):
        return draw(st.sampled_from(["x", "", "a b"]))
    return draw(st.sampled_from(URLS))


@st.composite
def start_tag(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(ELEMENTS))
    if draw(st.integers(0, 5)) == 0:
        name = name.upper()
    parts = [f"<{name}"]
    for attr in draw(st.lists(st.sampled_from(ATTRS), max_size=4)):
        value = _value(draw, attr)
        quote = draw(st.sampled_from(['"', "'", ""])) if " " not in value and value else '"'
        sep = draw(st.sampled_from([" ", "\n", "\t", "  "]))
        if quote == "" and ("'" in value or '"' in value or ">" in value):
            quote = '"' if '"' not in value else "'"
        parts.append(f"{sep}{attr}={quote}{value}{quote}" if draw(st.integers(0, 6)) else f"{sep}{attr}")
    parts.append(draw(st.sampled_from([">", ">", "/>", " >"])))
    return "".join(parts)


@st.composite
def soup(draw: st.DrawFn) -> bytes:
    pieces: list[str] = []
    if draw(st.booleans()):
        pieces.append("\ufeff")
    if draw(st.booleans()):
        pieces.append("<!DOCTYPE html>")
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.integers(0, 9))
        if kind <= 3:
            pieces.append(draw(start_tag()))
        elif kind == 4:
            pieces.append(f"</{draw(st.sampled_from(ELEMENTS))}>")
        elif kind == 5:
            pieces.append(f"<!--{draw(st.sampled_from(TEXTS))}{draw(start_tag())}-->")
        elif kind == 6:  # a style block: url(X) unquoted only, so the marker can be turned back (see above)
            pieces.append(f"<style>a{{background:url({draw(st.sampled_from(URLS)).strip()})}}</style>")
        elif kind == 7:  # an inline script, possibly holding a vendor's URL or a fake end tag
            body = draw(st.sampled_from(TEXTS))
            pieces.append(f"<script>{body}</script>")
        else:
            pieces.append(draw(st.sampled_from(TEXTS)))
    return "".join(pieces).encode("utf-8")


def run(page: bytes, p: FilterPlan, cuts: list[int] = (), max_carry: int | None = None) -> bytes:  # type: ignore[assignment]
    f = HtmlFilter(p) if max_carry is None else HtmlFilter(p, max_carry=max_carry)
    out, last = [], 0
    for cut in sorted(c for c in cuts if c <= len(page)):
        out.append(f.feed(page[last:cut]))
        last = cut
    out.append(f.feed(page[last:]))
    out.append(f.close())
    return b"".join(out)


pages = st.binary(max_size=600) | soup()


@given(pages, plans)
def test_never_raises(page: bytes, p: FilterPlan) -> None:
    assert isinstance(run(page, p), bytes)


@given(pages, plans, st.lists(st.integers(0, 700), max_size=8))
def test_any_chunking_gives_the_output_of_one_feed(page: bytes, p: FilterPlan, cuts: list[int]) -> None:
    assert run(page, p, cuts) == run(page, p)


ALL_PLANS = sorted(PLANS)


@given(soup(), st.sampled_from(ALL_PLANS).map(PLANS.__getitem__), st.lists(st.integers(0, 700), max_size=4))
def test_any_chunking_with_a_small_carry_limit(page: bytes, p: FilterPlan, cuts: list[int]) -> None:
    """Tags longer than max_carry are decided on their first max_carry bytes, however they arrive."""
    assert run(page, p, cuts, max_carry=48) == run(page, p, max_carry=48)


def test_oversized_first_tag_in_pieces_gets_the_body_html_before_it() -> None:
    page = b'<img alt="' + b"a" * 70000 + b'">'  # longer than the default max_carry (64 KB)
    p = PLANS["inject only"]
    assert run(page, p, [66000]) == run(page, p)


@given(pages, st.lists(st.integers(0, 700), max_size=4))
def test_nothing_blocked_and_nothing_injected_is_the_identity(page: bytes, cuts: list[int]) -> None:
    assert run(page, PLANS["pass-through"], cuts) == page


_PLACEHOLDER = re.compile(rb'<div class="consent-placeholder" data-consent-placeholder .*?</button></div>', re.S)
_INSERTED_ATTRS = re.compile(rb' type="text/plain"(?= data-consent-category=)| data-consent-category="[a-z]+"'
                             rb'| data-consent-style=""| style="display:none"')
_CSS_MARKER = re.compile(rb'url\("data:,"\)/\*consent-blocked:[a-z]+:(.*?)\*/')


def without_insertions(out: bytes) -> bytes:
    for markup in (HEAD, BODY, EARLY):
        out = out.replace(markup.encode(), b"", 1)
    out = _PLACEHOLDER.sub(b"", out)
    out = _INSERTED_ATTRS.sub(b"", out)
    out = out.replace(b"data-consent-", b"")
    return _CSS_MARKER.sub(lambda m: b"url(" + m.group(1).replace(b"%2A", b"*") + b")", out)


@given(soup(), plans, st.lists(st.integers(0, 700), max_size=3))
def test_only_inserts(page: bytes, p: FilterPlan, cuts: list[int]) -> None:
    out = run(page, p, cuts)
    assert without_insertions(out) == page
