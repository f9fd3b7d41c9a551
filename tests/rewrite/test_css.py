"""CSS url() and @import: in <style> blocks through the filter, and the css module's functions directly."""

from __future__ import annotations

import pytest

from gateway.rewrite.css import css_category, rewrite_css, style_text
from tests.rewrite.conftest import TRACKER, filt, plan, run

CSS_FORMS = [
    (
        "style block url()",
        f'<style>.a{{background:url("{TRACKER}/x.png")}} .b{{background:url(/ok.png)}}</style>',
        f'<style>.a{{background:url("data:,")/*consent-blocked:marketing:{TRACKER}/x.png*/}} '
        ".b{background:url(/ok.png)}</style>",
    ),
    (
        "style block @import",
        '<style>@import "https://fonts.googleapis.com/css?family=Roboto"; body{margin:0}</style>',
        '<style>@import url("data:,")/*consent-blocked:preferences:https://fonts.googleapis.com/css?family=Roboto*/;'
        " body{margin:0}</style>",
    ),
]

CSS_UNCHANGED = [
    ("style block without url()", "<style>.a{color:red}.b:hover{background:#fff}</style>"),
]


@pytest.mark.parametrize(("label", "page", "expected"), CSS_FORMS, ids=[c[0] for c in CSS_FORMS])
def test_style_block_is_rewritten(label: str, page: str, expected: str) -> None:
    assert filt(page) == expected


@pytest.mark.parametrize(("label", "page"), CSS_UNCHANGED, ids=[c[0] for c in CSS_UNCHANGED])
def test_style_block_passes_unchanged(label: str, page: str) -> None:
    assert filt(page) == page


@pytest.mark.parametrize(
    ("label", "page"),
    [(c[0], c[1]) for c in CSS_FORMS] + list(CSS_UNCHANGED),
    ids=[c[0] for c in CSS_FORMS] + [c[0] for c in CSS_UNCHANGED],
)
def test_style_block_gives_the_same_output_at_every_split_point(label: str, page: str) -> None:
    data = page.encode()
    whole = run(data)
    assert [i for i in range(len(data) + 1) if run(data, plan(), [i]) != whole] == []


def category_of(url: str) -> str:
    return {"https://t.example/a.png": "marketing", "https://fonts.example/f.css": "preferences"}.get(url, "")


CSS_REWRITES = [
    ("unquoted url", b"a{background:url(https://t.example/a.png)}",
     b'a{background:url("data:,")/*consent-blocked:marketing:https://t.example/a.png*/}'),
    ("@import keeps its keyword", b"@import 'https://fonts.example/f.css';",
     b'@import url("data:,")/*consent-blocked:preferences:https://fonts.example/f.css*/;'),
    ("allowed url untouched", b"a{background:URL( '/ok.png' )}", b"a{background:URL( '/ok.png' )}"),
    ("nothing to look at", b"a{color:red}", b"a{color:red}"),
]


@pytest.mark.parametrize(("label", "css", "expected"), CSS_REWRITES, ids=[c[0] for c in CSS_REWRITES])
def test_rewrite_css(label: str, css: bytes, expected: bytes) -> None:
    assert rewrite_css(css, category_of, "utf-8") == expected


def test_css_category_is_the_strictest_blocked_url() -> None:
    css = "background:url(https://fonts.example/f.css), url('https://t.example/a.png')"
    assert css_category(css, category_of) == "marketing"
    assert css_category("background:url(/a.png)", category_of) == ""


def test_style_text_holds_back_an_incomplete_url_and_a_possible_end_tag() -> None:
    assert style_text(b"a{} b{background:url(https://t.exa", 0, False, category_of, "utf-8") == (b"a{} b{background:", 17, False)
    assert style_text(b"a{color:red}</sty", 0, False, category_of, "utf-8") == (b"a{color:re", 10, False)  # the last 7 bytes could be "</style"
    assert style_text(b"a{}</style>", 0, False, category_of, "utf-8") == (b"a{}", 3, True)
