"""What the filter looks at, as data: which elements load from which attributes, and the HTML facts it relies on.

A new loading attribute or element is one row of ``LOADS`` (plus its row in tests/rewrite/test_rules.py);
the attribute readers, the tokenizer's fast paths and the consistency tests are all derived from it, so a
row can never be known to the rewriter and missed by the regexes that decide a tag needs no rewriting.
``<script>`` is not a row: it is blocked differently (``type="text/plain"``) and its body can decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, NamedTuple

from gateway.vocabulary import CATEGORIES

URL: Final = "url"  # the value is one URL
SRCSET: Final = "srcset"  # the value is a srcset list: "a.jpg 1x, b.jpg 2x"
BACKGROUND: Final = "background"  # one URL, or CSS naming it: "url(a.jpg)"
DOCUMENT: Final = "document"  # markup of its own (srcdoc): every absolute URL in it counts
ANY: Final = b"*"  # the row holds for every element


class Load(NamedTuple):
    """An element that loads what one of its attributes names."""

    element: bytes  # lower case
    attribute: bytes  # lower case
    kind: str = URL


# Blocked: the attribute becomes data-consent-<attribute> and data-consent-category is added. Per element,
# rows are read in this order (the first blocked URL of an iframe names its placeholder's vendor).
LOADS: Final = (
    Load(b"img", b"src"),
    Load(b"img", b"srcset", SRCSET),
    Load(b"image", b"href"),
    Load(b"image", b"xlink:href"),
    Load(b"iframe", b"src"),
    Load(b"iframe", b"srcdoc", DOCUMENT),
    Load(b"frame", b"src"),
    Load(b"embed", b"src"),
    Load(b"object", b"data"),
    Load(b"video", b"src"),
    Load(b"video", b"poster"),
    Load(b"audio", b"src"),
    Load(b"source", b"src"),
    Load(b"source", b"srcset", SRCSET),
    Load(b"track", b"src"),
    Load(b"input", b"src"),
    Load(b"link", b"href"),
    Load(b"link", b"imagesrcset", SRCSET),
    # <base href> on a third party makes every relative URL after it third-party: blocked, relative URLs stay home.
    Load(b"base", b"href"),
    # SVG: <use> and <feImage> fetch what they reference (<image> is above).
    Load(b"use", b"href"),
    Load(b"use", b"xlink:href"),
    Load(b"feimage", b"href"),
    Load(b"feimage", b"xlink:href"),
    # The legacy background attribute loads an image.
    Load(b"body", b"background"),
    Load(b"table", b"background"),
    Load(b"td", b"background"),
    Load(b"th", b"background"),
    Load(b"tr", b"background"),
    # Lazy loading (lazysizes, lozad, WP Rocket, jQuery Lazy, Tilda, Bitrix templates): a script copies these
    # into src/srcset/style later, so they load as surely as the attribute they stand for. Any element.
    Load(ANY, b"data-src"),
    Load(ANY, b"data-srcset", SRCSET),
    Load(ANY, b"data-lazy-src"),
    Load(ANY, b"data-lazy-srcset", SRCSET),
    Load(ANY, b"data-original"),
    Load(ANY, b"data-lazy"),
    Load(ANY, b"data-bg", BACKGROUND),
    Load(ANY, b"data-background", BACKGROUND),
    Load(ANY, b"data-background-image", BACKGROUND),
    Load(ANY, b"data-lazy-background", BACKGROUND),
)

# rel values with which a <link> fetches its href (any one of its space-separated tokens).
LINK_RELS: Final = frozenset({"preconnect", "dns-prefetch", "preload", "prefetch", "modulepreload", "stylesheet",
                              "prerender", "icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon",
                              "manifest"})


def _link_loads(rel: str) -> bool:
    return any(r in LINK_RELS for r in rel.lower().split())


def _image_input(input_type: str) -> bool:
    return input_type.strip().lower() == "image"


class Gate(NamedTuple):
    """An element whose URL attributes load only when another attribute says so."""

    attribute: bytes
    loads: Callable[[str], bool]  # given the attribute's decoded value ("" when absent)
    # In a tag cut at max_carry, read the value in progress without its opening quote. <link rel> never was
    # (kept as it was when the rules became a table).
    cut_value: bool = True


GATES: Final = {
    b"link": Gate(b"rel", _link_loads, cut_value=False),
    b"input": Gate(b"type", _image_input),
}

# <script type> values that run (parameters such as "; charset=utf-8" are not stripped: fail closed).
JS_TYPES: Final = frozenset({
    "", "module", "text/javascript", "application/javascript", "text/ecmascript", "application/ecmascript",
    "application/x-javascript", "application/x-ecmascript", "text/x-javascript", "text/x-ecmascript",
    "text/jscript", "text/livescript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
    "text/javascript1.3", "text/javascript1.4", "text/javascript1.5",
})


def executable(script_type: str) -> bool:
    """JavaScript or module; parameters ("text/javascript; charset=utf-8") are ignored to fail closed."""
    return script_type.split(";", 1)[0].strip().lower() in JS_TYPES


# -- how the browser parses (after the WHATWG tokenizer and tree builder) ---------------------------------------

# Elements whose text is never markup up to their end tag (RCDATA and RAWTEXT alike for the filter).
RAWTEXT: Final = (b"title", b"textarea", b"xmp", b"noembed", b"noframes", b"iframe")
# Start tags that do not end <head>, so the banner is not injected before them.
HEAD_LEVEL: Final = frozenset({b"html", b"head", b"base", b"meta", b"link", b"title", b"style", b"script",
                               b"noscript", b"template"})
# HTML start tags that end foreign content (<svg>/<math>); <font> only with one of FONT_BREAKOUT_ATTRS.
BREAKOUT: Final = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li listing "
    b"menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var".split()
)
FONT_BREAKOUT_ATTRS: Final = (b"color", b"face", b"size")

# -- derived from LOADS --------------------------------------------------------------------------------------------


def _by_element(rows: Iterable[Load]) -> dict[bytes, tuple[tuple[bytes, str], ...]]:
    grouped: dict[bytes, list[tuple[bytes, str]]] = {}
    for row in rows:
        grouped.setdefault(row.element, []).append((row.attribute, row.kind))
    anywhere = grouped.pop(ANY, [])
    return {element: tuple(attrs + anywhere) for element, attrs in grouped.items()}


# element -> ((attribute, kind), ...), in LOADS order, the rows for every element last
URL_ATTRS: Final = _by_element(LOADS)
# The rows that hold for every element: ((attribute, kind), ...)
ANY_ATTRS: Final = tuple((row.attribute, row.kind) for row in LOADS if row.element == ANY)
# Every attribute name that can hold a URL somewhere, in order of first appearance.
URL_ATTR_NAMES: Final = tuple(dict.fromkeys(row.attribute for row in LOADS))
# Every element that loads from an attribute of its own: the tokenizer's fast paths send these to the rewriter
# (any other element only when it carries one of ANY_ATTRS).
LOADING: Final = (b"script", *URL_ATTRS)

_RANK = {c: i for i, c in enumerate(CATEGORIES)}


def strictest(categories: list[str] | set[str]) -> str:
    """The category that wins when one tag or script names several: marketing > analytics > preferences."""
    if len(categories) == 1:
        return next(iter(categories))
    return max(categories, key=_RANK.__getitem__)
